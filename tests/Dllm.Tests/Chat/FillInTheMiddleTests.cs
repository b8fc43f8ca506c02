using System.Text;
using System.Text.Json;
using Dllm.Chat;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tests.Serving;
using Dllm.Text;

namespace Dllm.Tests.Chat;

/// <summary>Fill in the middle: the answer is denoised between a prompt and a suffix that stay intact, and ends where the suffix begins.</summary>
public class FillInTheMiddleTests
{
    [Fact]
    public void The_middle_is_denoised_between_an_intact_prompt_and_suffix()
    {
        string dir = TestPaths.BundledModel();
        using Transformer model = Transformer.Load(dir);
        ITokenizer tok = TokenizerLoader.Load(dir);
        var engine = new CompletionEngine(model, tok, model.Config.MaskTokenId, model.Config.EosTokenId);
        List<int> prompt = engine.TextPrompt("In the beginning God created");
        int[] suffix = [.. tok.Encode(" and the earth.")];
        var knobs = new DecodingKnobs();
        knobs.Set("max_tokens", "16");
        DecodingOptions options = knobs.Build(engine.EosId);
        int steps = 0;
        Completion c = engine.Complete(prompt, options, onStep: s =>
        {
            steps++;
            Assert.Equal(prompt, s.Canvas[..prompt.Count]);
            Assert.Equal(suffix, s.Canvas[^suffix.Length..]);
            Assert.Equal(prompt.Count + 16 + suffix.Length, s.Canvas.Length); // the hole is the canvas, nothing after the suffix
        }, suffix: suffix);
        Assert.Equal(16, steps);
        Assert.True(c.TokenIds.Length <= 16);
        Assert.DoesNotContain(model.Config.MaskTokenId, c.TokenIds);
        Assert.DoesNotContain(engine.EosId, c.TokenIds); // cut at the first EOS: the model chose the length

        // Too long with the suffix: named, before any step.
        knobs.Set("max_tokens", "480");
        var e = Assert.Throws<InvalidRequestException>(() => engine.Complete(prompt, knobs.Build(engine.EosId), suffix: [.. Enumerable.Repeat(suffix[0], 40)]));
        Assert.Contains("plus the suffix (40 tokens)", e.Message);
    }

    [Fact]
    public async Task Completions_take_a_suffix_and_chat_does_not()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        string dir = TestPaths.BundledModel();
        using Transformer model = Transformer.Load(dir);
        var engine = new CompletionEngine(model, TokenizerLoader.Load(dir), model.Config.MaskTokenId, model.Config.EosTokenId);
        await using LoopbackServer server = await LoopbackServer.StartAsync(engine);
        using HttpResponseMessage r = await server.Http.PostAsync(server.BaseUrl + "/v1/completions",
            new StringContent("{\"model\":\"tiny\",\"prompt\":\"In the beginning\",\"suffix\":\" and the earth.\",\"max_tokens\":8}", Encoding.UTF8, "application/json"), ct);
        Assert.Equal(200, (int)r.StatusCode);
        using JsonDocument d = JsonDocument.Parse(await r.Content.ReadAsStringAsync(ct));
        Assert.Equal(JsonValueKind.String, d.RootElement.GetProperty("choices")[0].GetProperty("text").ValueKind);

        using HttpResponseMessage chat = await server.Http.PostAsync(server.BaseUrl + "/v1/chat/completions",
            new StringContent("{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"suffix\":\"y\"}", Encoding.UTF8, "application/json"), ct);
        Assert.Equal(400, (int)chat.StatusCode);
        Assert.Contains("suffix", await chat.Content.ReadAsStringAsync(ct));
    }
}
