using Dllm.Chat;
using Dllm.Sampling;
using Dllm.Text;

namespace Dllm.Tests.Chat;

/// <summary>The engine over a scripted model: text, counts, finish reasons, streaming, cancellation, limits.</summary>
public class CompletionEngineTests
{
    private static readonly ByteTokenizer Tok = new();
    private static readonly ChatMessage[] Hello = [new("user", "Hi")];
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static (CompletionEngine Engine, List<int> Prompt) Setup(string answer, bool leftToRight = true, int maxLength = 4096)
    {
        int promptLength = ChatTemplate.Apply(Tok, Hello).Count;
        var engine = new CompletionEngine(ScriptedAnswers.Model(answer, () => promptLength, leftToRight, maxLength), Tok, ByteTokenizer.Mask, ByteTokenizer.Eos);
        return (engine, engine.ChatPrompt(Hello));
    }

    [Fact]
    public void ChatAnswerIsTheTextBeforeEosWithCountsAndStop()
    {
        var (engine, prompt) = Setup("Hello, world");
        Completion c = engine.Complete(prompt, new DecodingOptions { GenLength = 16, BlockLength = 16, Steps = 16 }, cancellationToken: Ct);
        Assert.Equal("Hello, world", c.Text);
        Assert.Equal(FinishReason.Stop, c.FinishReason);
        Assert.Equal("stop", c.FinishReasonName);
        Assert.Equal(prompt.Count, c.PromptTokens);
        Assert.Equal(12, c.CompletionTokens);
        Assert.Equal(16, c.Steps);
        Assert.Equal(16, c.Nfe);
        Assert.Equal(16, engine.StepsRun);
        Assert.Equal(prompt, ChatTemplate.Apply(Tok, Hello));
    }

    [Fact]
    public void AnAnswerThatFillsTheCanvasOrTheCapEndsWithLength()
    {
        var (engine, prompt) = Setup("abcdefghijklmnopqrstuvwxyz");
        Completion full = engine.Complete(prompt, new DecodingOptions { GenLength = 8, Steps = 8 }, cancellationToken: Ct);
        Assert.Equal(("abcdefgh", FinishReason.Length), (full.Text, full.FinishReason));
        Completion capped = engine.Complete(prompt, new DecodingKnobs { MaxTokens = 5, BlockLength = 4 }.Build(ByteTokenizer.Eos), cancellationToken: Ct); // canvas 8, cap 5
        Assert.Equal(("abcde", FinishReason.Length, 5, 8), (capped.Text, capped.FinishReason, capped.CompletionTokens, capped.Options.GenLength));
    }

    [Fact]
    public void StreamedPiecesArriveLeftToRightAndAddUpToTheText()
    {
        var (engine, prompt) = Setup("Grüße €!");
        var pieces = new List<string>();
        Completion c = engine.Complete(prompt, new DecodingOptions { GenLength = 16, BlockLength = 8, Steps = 16 }, onText: pieces.Add, cancellationToken: Ct);
        Assert.Equal("Grüße €!", c.Text);
        Assert.Equal(c.Text, string.Concat(pieces));
        Assert.True(pieces.Count >= 6, $"one piece per final character expected, got {pieces.Count}");
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
    }

    [Fact]
    public void RightToLeftCommitsStreamNothingUntilTheFirstTokenIsFinal()
    {
        var (engine, prompt) = Setup("abcd", leftToRight: false);
        var pieces = new List<(string Text, long Step)>();
        engine.Complete(prompt, new DecodingOptions { GenLength = 8, Steps = 8 }, onText: p => pieces.Add((p, engine.StepsRun)), cancellationToken: Ct);
        // The rightmost (EOS) tokens are committed first; 'a' is committed last, at step 8, then all is final at once.
        Assert.Equal([("abcd", 8L)], pieces);
    }

    [Fact]
    public void CancellingStopsTheGenerationBeforeItsNextStep()
    {
        var (engine, prompt) = Setup("abcdefgh");
        using var cts = new CancellationTokenSource();
        var options = new DecodingOptions { GenLength = 32, Steps = 32 };
        Assert.ThrowsAny<OperationCanceledException>(() =>
            engine.Complete(prompt, options, onStep: s => { if (s.Step == 2) cts.Cancel(); }, cancellationToken: cts.Token));
        Assert.Equal(3, engine.StepsRun); // steps 0, 1, 2 ran; none after the cancel
    }

    [Fact]
    public void APromptLongerThanTheContextIsRejectedBeforeAnyForward()
    {
        var (engine, prompt) = Setup("x", maxLength: 40);
        var e = Assert.Throws<InvalidRequestException>(() => engine.Complete(prompt, new DecodingOptions { GenLength = 32, Steps = 32 }, cancellationToken: Ct));
        Assert.Equal("context_length_exceeded", e.Code);
        Assert.Contains($"the prompt ({prompt.Count} tokens) plus the answer canvas (32 tokens)", e.Message);
        Assert.Contains("context of 40 tokens", e.Message);
        Assert.Equal(0, engine.StepsRun);
        Assert.Equal("messages", Assert.Throws<InvalidRequestException>(() => engine.ChatPrompt([])).Field);
    }

    [Fact]
    public async Task ConcurrentCallersAreServedOneAtATime()
    {
        int promptLength = ChatTemplate.Apply(Tok, Hello).Count, inside = 0, maxInside = 0;
        var model = new HookedModel(ScriptedAnswers.Model("ok", () => promptLength), () =>
        {
            int now = Interlocked.Increment(ref inside);
            maxInside = Math.Max(maxInside, now);
            Thread.Sleep(1);
            Interlocked.Decrement(ref inside);
        });
        var engine = new CompletionEngine(model, Tok, ByteTokenizer.Mask, ByteTokenizer.Eos);
        List<int> prompt = engine.ChatPrompt(Hello);
        Completion[] results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => engine.Complete(prompt, new DecodingOptions { GenLength = 8, Steps = 8 }, cancellationToken: Ct), TestContext.Current.CancellationToken)));
        Assert.All(results, r => Assert.Equal("ok", r.Text));
        Assert.Equal(1, maxInside);
        Assert.Equal(32, engine.StepsRun);
    }

    [Fact]
    public void ACacheWithAModelThatCannotCacheIsABadRequest()
    {
        int promptLength = ChatTemplate.Apply(Tok, Hello).Count;
        var engine = new CompletionEngine(new Dllm.Tests.Sampling.PlainModel(ScriptedAnswers.Model("x", () => promptLength)), Tok, ByteTokenizer.Mask, ByteTokenizer.Eos);
        var options = new DecodingOptions { GenLength = 8, Steps = 8, Cache = CacheMode.Dual };
        var e = Assert.Throws<InvalidRequestException>(() => engine.Complete(engine.ChatPrompt(Hello), options, cancellationToken: Ct));
        Assert.Equal(("cache", "cache 'dual' needs a model with a KV cache; this one has none (use cache none)"), (e.Field, e.Message));
    }

    [Fact]
    public void TextPromptsUseNoTemplate()
    {
        var (engine, _) = Setup("x");
        Assert.Equal(Tok.Encode("In the beginning"), engine.TextPrompt("In the beginning"));
    }
}
