using System.ClientModel;
using System.Text.Json;
using Dllm.Chat;
using Dllm.Cli.Serving;
using Dllm.Model;
using Dllm.Tests.Cli;
using Dllm.Text;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Models;

namespace Dllm.Tests.Serving;

/// <summary>The server driven by the official OpenAI .NET client on loopback, plain and streaming.</summary>
public class OpenAiClientTests
{
    private const string Answer = "Hello from a diffusion model";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static OpenAIClientOptions Options(LoopbackServer s) => new() { Endpoint = new Uri(s.BaseUrl + "/v1") };

    [Fact]
    public async Task ChatCompletionReturnsTheAnswerWithUsageAndStop()
    {
        await using LoopbackServer server = await LoopbackServer.ScriptedAsync(Answer);
        var client = new ChatClient("tiny", new ApiKeyCredential("unused"), Options(server));
        ChatCompletion c = (await client.CompleteChatAsync([new UserChatMessage("Hi")], new ChatCompletionOptions { MaxOutputTokenCount = 32 }, Ct)).Value;
        Assert.Equal(Answer, c.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, c.FinishReason);
        Assert.Equal(ChatMessageRole.Assistant, c.Role);
        Assert.Equal("tiny", c.Model);
        Assert.Equal(ChatTemplate.Apply(new ByteTokenizer(), [new Dllm.Text.ChatMessage("user", "Hi")]).Count, c.Usage.InputTokenCount);
        Assert.Equal(Answer.Length, c.Usage.OutputTokenCount);
        Assert.Equal(32, server.Engine.StepsRun); // max_tokens 32 -> one block of 32, one step per token
    }

    [Fact]
    public async Task StreamingChatSendsFinalTextLeftToRightThenFinishAndUsage()
    {
        await using LoopbackServer server = await LoopbackServer.ScriptedAsync(Answer);
        var client = new ChatClient("tiny", new ApiKeyCredential("unused"), Options(server));
        var pieces = new List<string>();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (StreamingChatCompletionUpdate u in client.CompleteChatStreamingAsync([new UserChatMessage("Hi")], new ChatCompletionOptions { MaxOutputTokenCount = 32 }, Ct))
        {
            foreach (ChatMessageContentPart p in u.ContentUpdate) if (p.Text.Length > 0) pieces.Add(p.Text);
            finish ??= u.FinishReason;
            usage ??= u.Usage;
        }
        Assert.Equal(Answer, string.Concat(pieces));
        Assert.True(pieces.Count >= 10, $"text should arrive as it becomes final, got {pieces.Count} piece(s)");
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage); // the .NET client asks for stream_options.include_usage
        Assert.Equal(Answer.Length, usage.OutputTokenCount);
    }

    [Fact]
    public async Task ModelsListHasTheServedModel()
    {
        await using LoopbackServer server = await LoopbackServer.ScriptedAsync(Answer);
        var client = new OpenAIModelClient(new ApiKeyCredential("unused"), Options(server));
        OpenAIModelCollection models = (await client.GetModelsAsync(Ct)).Value;
        Assert.Equal(["tiny"], models.Select(m => m.Id));
        Assert.Equal("tiny", (await client.GetModelAsync("tiny", Ct)).Value.Id);
        var e = await Assert.ThrowsAsync<ClientResultException>(() => client.GetModelAsync("gpt-4", Ct));
        Assert.Equal(404, e.Status);
    }

    /// <summary>Raw HTTP: the OpenAI .NET library 2.x keeps its legacy completions client internal.</summary>
    [Fact]
    public async Task TextCompletionsPlainAndStreamingOverARealCheckpoint()
    {
        string dir = TextPromptTests.WriteRandomByteModel();
        using Transformer lm = Transformer.Load(dir);
        var engine = new CompletionEngine(lm, TokenizerLoader.Load(dir), lm.Config.MaskTokenId, lm.Config.EosTokenId);
        await using LoopbackServer server = await LoopbackServer.StartAsync(engine, new ServerSettings { ModelId = Path.GetFileName(dir) });
        string body = JsonSerializer.Serialize(new { model = Path.GetFileName(dir), prompt = "In the beginning", max_tokens = 16, block_length = 8, steps = 8 });

        using HttpResponseMessage plain = await server.Http.PostAsync(server.BaseUrl + "/v1/completions", new StringContent(body), Ct);
        Assert.Equal(200, (int)plain.StatusCode);
        JsonElement json = JsonDocument.Parse(await plain.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal("text_completion", json.GetProperty("object").GetString());
        JsonElement choice = json.GetProperty("choices")[0];
        string text = choice.GetProperty("text").GetString()!;
        Assert.Contains(choice.GetProperty("finish_reason").GetString(), new[] { "stop", "length" });
        Assert.Equal(16, json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32()); // 16 bytes
        Assert.Equal(8, json.GetProperty("dllm").GetProperty("steps").GetInt32());

        // Same request streamed: the same text (greedy decoding is deterministic), chunk by chunk, then [DONE].
        string streamBody = body.Replace("\"steps\":8", "\"steps\":8,\"stream\":true");
        using HttpResponseMessage sse = await server.Http.PostAsync(server.BaseUrl + "/v1/completions", new StringContent(streamBody), Ct);
        Assert.Equal("text/event-stream", sse.Content.Headers.ContentType!.MediaType);
        string[] data = SseData(await sse.Content.ReadAsStringAsync(Ct));
        Assert.Equal("[DONE]", data[^1]);
        string streamed = string.Concat(data[..^1].Select(d => JsonDocument.Parse(d).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(text, streamed);
        Assert.Equal(choice.GetProperty("finish_reason").GetString(), JsonDocument.Parse(data[^2]).RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task DiffusionKnobsAndStopSequencesAreExtraFields()
    {
        await using LoopbackServer server = await LoopbackServer.ScriptedAsync(Answer);
        string body = """{"model":"tiny","messages":[{"role":"user","content":"Hi"}],"max_tokens":64,"steps":16,"block_length":32,"commit":"threshold","threshold":0.5,"stop":[" diff"]}""";
        using HttpResponseMessage r = await server.Http.PostAsync(server.BaseUrl + "/v1/chat/completions", new StringContent(body), Ct);
        JsonElement json = JsonDocument.Parse(await r.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal("Hello from a", json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(2, json.GetProperty("dllm").GetProperty("steps").GetInt32()); // threshold 0.5: each block in one step
    }

    /// <summary>The data payloads of an SSE body, in order (events of other types skipped).</summary>
    internal static string[] SseData(string body)
        => [.. body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Where(e => !e.StartsWith("event:", StringComparison.Ordinal))
            .Select(e => e.Trim()).Where(e => e.StartsWith("data: ", StringComparison.Ordinal)).Select(e => e["data: ".Length..])];
}
