using Dllm.Chat;
using Dllm.Text;
using Microsoft.Extensions.AI;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace Dllm.Tests.Chat;

/// <summary>IChatClient over the engine: answers, knobs through AdditionalProperties, streaming, refusals.</summary>
public class DiffusionChatClientTests
{
    private const string Answer = "Hello from a diffusion model";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static (IChatClient Client, CompletionEngine Engine) Create(Action? onForward = null)
    {
        var tok = new ByteTokenizer();
        int promptLength = ChatTemplate.Apply(tok, [new Dllm.Text.ChatMessage("user", "Hi")]).Count;
        Dllm.Model.IDenoisingModel model = ScriptedAnswers.Model(Answer, () => promptLength);
        if (onForward is not null) model = new HookedModel(model, onForward);
        var engine = new CompletionEngine(model, tok, ByteTokenizer.Mask, ByteTokenizer.Eos);
        return (new DiffusionChatClient(engine, "tiny"), engine);
    }

    [Fact]
    public async Task GetResponseReturnsTheAnswerUsageAndStop()
    {
        var (client, engine) = Create();
        ChatResponse r = await client.GetResponseAsync([new AiChatMessage(ChatRole.User, "Hi")], new ChatOptions { MaxOutputTokens = 32 }, Ct);
        Assert.Equal(Answer, r.Text);
        Assert.Equal(ChatFinishReason.Stop, r.FinishReason);
        Assert.Equal("tiny", r.ModelId);
        Assert.Equal(Answer.Length, r.Usage!.OutputTokenCount);
        Assert.Equal(32, engine.StepsRun);
        Assert.Equal("tiny", client.GetService<ChatClientMetadata>()!.DefaultModelId);
    }

    [Fact]
    public async Task KnobsComeFromAdditionalPropertiesAndStopSequencesCut()
    {
        var (client, engine) = Create();
        var options = new ChatOptions
        {
            MaxOutputTokens = 32, StopSequences = [" model"],
            AdditionalProperties = new AdditionalPropertiesDictionary { ["steps"] = 8, ["remasking"] = "low_confidence", ["early_stop"] = false },
        };
        ChatResponse r = await client.GetResponseAsync([new AiChatMessage(ChatRole.User, "Hi")], options, Ct);
        Assert.Equal("Hello from a diffusion", r.Text);
        Assert.Equal(ChatFinishReason.Stop, r.FinishReason);
        Assert.Equal(8, engine.StepsRun); // steps = 8 was used, not the default one step per token
    }

    [Fact]
    public async Task StreamingYieldsFinalTextThenFinishAndUsage()
    {
        var (client, _) = Create();
        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in client.GetStreamingResponseAsync([new AiChatMessage(ChatRole.User, "Hi")], new ChatOptions { MaxOutputTokens = 32 }, Ct))
            updates.Add(u);
        Assert.Equal(Answer, string.Concat(updates.Select(u => u.Text)));
        Assert.True(updates.Count > 10, $"expected text as it becomes final, got {updates.Count} updates");
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
        Assert.Equal(Answer.Length, updates[^1].Contents.OfType<UsageContent>().Single().Details.OutputTokenCount);
        ChatResponse combined = updates.ToChatResponse();
        Assert.Equal(Answer, combined.Text);
    }

    [Fact]
    public async Task StoppingTheEnumerationStopsTheGeneration()
    {
        var (client, engine) = Create(() => Thread.Sleep(5));
        await foreach (ChatResponseUpdate u in client.GetStreamingResponseAsync([new AiChatMessage(ChatRole.User, "Hi")], new ChatOptions { MaxOutputTokens = 256 }, Ct))
            break; // the first piece is enough
        long stopped = engine.StepsRun;
        await Task.Delay(100, Ct);
        Assert.Equal(stopped, engine.StepsRun);
        Assert.True(stopped < 256, $"ran {stopped} steps");
    }

    [Theory]
    [InlineData("top_p")]
    [InlineData("top_k")]
    [InlineData("tools")]
    [InlineData("unknown knob")]
    [InlineData("wrong type")]
    [InlineData("tool role")]
    public async Task UnsupportedOptionsAreRefusedByName(string what)
    {
        var (client, engine) = Create();
        var options = new ChatOptions();
        AiChatMessage message = new(ChatRole.User, "Hi");
        string expected;
        switch (what)
        {
            case "top_p": options.TopP = 0.9f; expected = "top_p = 0.9 is not supported"; break;
            case "top_k": options.TopK = 40; expected = "top_k is not supported"; break;
            case "tools": options.Tools = [AIFunctionFactory.Create(() => 1, "one")]; expected = "tools are not supported"; break;
            case "unknown knob": options.AdditionalProperties = new() { ["top_a"] = 1 }; expected = "unknown decoding option 'top_a'"; break;
            case "wrong type": options.AdditionalProperties = new() { ["steps"] = true }; expected = "steps must be an integer, got Boolean True"; break;
            default: message = new AiChatMessage(ChatRole.Tool, "x"); expected = "role 'tool' is not supported"; break;
        }
        var e = await Assert.ThrowsAsync<InvalidRequestException>(() => client.GetResponseAsync([message], options, Ct));
        Assert.Contains(expected, e.Message);
        Assert.Equal(0, engine.StepsRun);
    }
}
