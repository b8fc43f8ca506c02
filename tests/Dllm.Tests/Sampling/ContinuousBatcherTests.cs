using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tests.Chat;
using Dllm.Tests.Cli;
using Dllm.Text;

namespace Dllm.Tests.Sampling;

/// <summary>
/// Step-level continuous batching: requests with different prompts and knobs, joining at different rounds,
/// get exactly what they get alone; the forwards are really shared; a cancelled row stops costing at once.
/// </summary>
public class ContinuousBatcherTests
{
    private const int Vocab = 9, Mask = 8, Pad = 0;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Requests of different lengths and knobs (greedy and seeded sampling, blocks, threshold, early stop, infill).</summary>
    private static readonly (int[] Prompt, DecodingOptions Options)[] Requests =
    [
        ([3, 4], new DecodingOptions { GenLength = 8, Steps = 8, BlockLength = 4 }),
        ([5, 6, 7, 1, 2], new DecodingOptions { GenLength = 12, Steps = 6, BlockLength = 4, Temperature = 0.8, Seed = 3 }),
        ([2, 2, 3], new DecodingOptions { GenLength = 6, Steps = 6, Commit = CommitRule.Threshold, Threshold = 0.3 }),
        ([1], new DecodingOptions { GenLength = 10, Steps = 10, BlockLength = 5, EarlyStop = true, EosId = 1, Temperature = 0.5, Seed = 9 }),
        ([4, 4, 4, 4, 4, 4, 4], new DecodingOptions { GenLength = 4, Steps = 2, Ordering = OrderingRule.TopKMargin }),
    ];

    [Theory]
    [InlineData(8)]
    [InlineData(2)]
    public async Task RequestsJoiningAtDifferentRoundsDecodeAsTheyWouldAlone(int maxRows)
    {
        var alone = Requests.Select(r => new DiffusionSampler(new FakeModel(Vocab, Rows.Hashed), Mask).Generate(r.Prompt, r.Options, cancellationToken: Ct)).ToArray();
        var aloneFill = new DiffusionSampler(new FakeModel(Vocab, Rows.Hashed), Mask).Fill(FillCanvas(), new DecodingOptions { Steps = 4 }, cancellationToken: Ct);

        // Request k (k ≥ 1) is submitted during forward k, the fill during forward 5 (from inside the model
        // call, as a server thread would): request 0 alone takes 8 forwards, so each joins a running batch.
        var model = new FakeModel(Vocab, Rows.Hashed);
        ContinuousBatcher batcher = null!;
        var tasks = new Task<GenerationResult>[Requests.Length];
        Task<GenerationResult>? fill = null;
        var submitted = new TaskCompletionSource();
        var hooked = new HookedModel(model, () =>
        {
            int k = model.Calls.Count + 1; // the hook runs before the call is recorded
            if (k < Requests.Length) tasks[k] = batcher.GenerateAsync(Requests[k].Prompt, Requests[k].Options, cancellationToken: Ct);
            if (k == Requests.Length) { fill = batcher.FillAsync(FillCanvas(), new DecodingOptions { Steps = 4 }, cancellationToken: Ct); submitted.TrySetResult(); }
        });
        batcher = new ContinuousBatcher(hooked, Mask, Pad, new BatchLimits { MaxRows = maxRows });
        tasks[0] = batcher.GenerateAsync(Requests[0].Prompt, Requests[0].Options, cancellationToken: Ct);
        await submitted.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        GenerationResult[] batched = await Task.WhenAll(tasks);

        for (int i = 0; i < Requests.Length; i++)
        {
            Assert.Equal(alone[i].Canvas, batched[i].Canvas);
            Assert.Equal(alone[i].ForwardPasses, batched[i].ForwardPasses);
            Assert.Equal(alone[i].StoppedEarly, batched[i].StoppedEarly);
        }
        Assert.Equal(aloneFill.Canvas, (await fill!).Canvas);
        // The forwards were shared: fewer model calls than the requests' forwards together, several rows in some.
        int total = alone.Sum(r => r.ForwardPasses) + aloneFill.ForwardPasses;
        Assert.True(model.Calls.Count < total, $"{model.Calls.Count} calls for {total} forwards");
        Assert.InRange(model.Calls.Max(c => c.Batch), 2, maxRows);
        Assert.All(model.Calls, c => Assert.InRange(c.Batch, 1, maxRows));
        Assert.Equal(model.Calls.Count, batcher.Forwards);
        Assert.Equal(model.Calls.Sum(c => c.Batch), batcher.ForwardRows);
    }

    private static InfillCanvas FillCanvas() => new([2, Mask, Mask, 3, Mask, Mask, 5]);

    [Fact]
    public async Task ACancelledRowLeavesBeforeTheNextForward()
    {
        var model = new FakeModel(Vocab, Rows.Hashed);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        int cancelledSteps = 0;
        var options = new DecodingOptions { GenLength = 32, Steps = 32, BlockLength = 8 };
        ContinuousBatcher batcher = null!;
        Task<GenerationResult>? kept = null;
        // The survivor is submitted during forward 1 (it joins at forward 2); the doomed request is cancelled
        // during forward 4 (the hook runs before the call is recorded).
        batcher = new ContinuousBatcher(new HookedModel(model, () =>
        {
            if (model.Calls.Count == 0) kept = batcher.GenerateAsync([3, 4, 5], options, cancellationToken: Ct);
            if (model.Calls.Count == 3) cancel.Cancel();
        }), Mask, Pad);
        Task<GenerationResult> doomed = batcher.GenerateAsync([1, 2], options, _ => cancelledSteps++, cancel.Token);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => doomed);
        GenerationResult result = await kept!;
        // Forward 4 still carries both rows and the doomed one still takes its 4th step; every later forward
        // carries only the survivor, which takes its 32 forwards (calls 2..33).
        Assert.Equal(32, result.ForwardPasses);
        Assert.Equal(33, model.Calls.Count);
        Assert.Equal([1, 2, 2, 2], model.Calls.Take(4).Select(c => c.Batch));
        Assert.All(model.Calls.Skip(4), c => Assert.Equal(1, c.Batch));
        Assert.Equal(4, cancelledSteps);
        Assert.Equal(36, batcher.ForwardRows);
        Assert.Equal(0, batcher.ActiveRows + batcher.Waiting);
    }

    [Fact]
    public async Task AWaitingRequestThatIsCancelledLeavesTheQueue()
    {
        using var gate = new ManualResetEventSlim(false);
        using var entered = new ManualResetEventSlim(false);
        var model = new FakeModel(Vocab, Rows.Hashed);
        var batcher = new ContinuousBatcher(new HookedModel(model, () => { entered.Set(); gate.Wait(TimeSpan.FromSeconds(30)); }), Mask, Pad, new BatchLimits { MaxRows = 1 });
        var options = new DecodingOptions { GenLength = 4, Steps = 4 };
        Task<GenerationResult> running = batcher.GenerateAsync([1], options, cancellationToken: Ct);
        Assert.True(entered.Wait(TimeSpan.FromSeconds(30), Ct));
        using var cancel = new CancellationTokenSource();
        Task<GenerationResult> waiting = batcher.GenerateAsync([2], options, cancellationToken: cancel.Token);
        Assert.Equal(1, batcher.Waiting);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, batcher.Waiting);
        gate.Set();
        await running;
        Assert.All(model.Calls, c => Assert.Equal(1, c.Batch));
    }

    [Fact]
    public async Task CachedRequestsDoNotJoinARunningBatchButStartTogetherAsACohort()
    {
        using var gate = new ManualResetEventSlim(false);
        var model = new FakeModel(Vocab, Rows.Hashed);
        var batcher = new ContinuousBatcher(new GatedCachingModel(model, gate), Mask, Pad);
        var plain = new DecodingOptions { GenLength = 8, Steps = 8, BlockLength = 4 };
        DecodingOptions dual = plain with { Cache = CacheMode.Dual };
        Task<GenerationResult> a = batcher.GenerateAsync([1], plain, cancellationToken: Ct);
        Task<GenerationResult> cached = batcher.GenerateAsync([2], dual, cancellationToken: Ct);
        Task<GenerationResult> cached2 = batcher.GenerateAsync([3, 5], dual, cancellationToken: Ct);
        Task<GenerationResult> b = batcher.GenerateAsync([3], plain, cancellationToken: Ct);
        gate.Set();
        await Task.WhenAll(a, cached, cached2, b);
        GenerationResult Alone(int[] prompt, DecodingOptions o) => new DiffusionSampler(new FakeModel(Vocab, Rows.Hashed), Mask).Generate(prompt, o);
        Assert.Equal(Alone([2], dual).Canvas, (await cached).Canvas);   // lockstep cohort: exact
        Assert.Equal(Alone([3, 5], dual).Canvas, (await cached2).Canvas);
        Assert.Equal(Alone([1], plain).Canvas, (await a).Canvas);
        Assert.Equal(Alone([3], plain).Canvas, (await b).Canvas);
        // Cached calls carry exactly the two cached requests; no uncached call overlaps them.
        Assert.Contains(model.Calls, c => c.Kind == "refresh");
        Assert.All(model.Calls.Where(c => c.Kind != "logits"), c => Assert.Equal(2, c.Batch));
        int firstCached = model.Calls.FindIndex(c => c.Kind != "logits"), lastCached = model.Calls.FindLastIndex(c => c.Kind != "logits");
        Assert.All(model.Calls.Skip(firstCached).Take(lastCached - firstCached + 1), c => Assert.NotEqual("logits", c.Kind));
    }

    [Fact]
    public async Task OnTheTinyTransformerBatchedGreedyAnswersEqualTheAnswersAlone()
    {
        string dir = TextPromptTests.WriteRandomByteModel();
        using Transformer lm = Transformer.Load(dir);
        var tok = new ByteTokenizer();
        string[] prompts = ["Hello", "A much longer prompt here", "x", "Tell me"];
        DecodingOptions[] knobs =
        [
            new() { GenLength = 16, Steps = 8, BlockLength = 8 },
            new() { GenLength = 8, Steps = 8 },
            new() { GenLength = 24, Steps = 12, BlockLength = 8, Commit = CommitRule.Threshold, Threshold = 0.2 },
            new() { GenLength = 16, Steps = 16, Temperature = 0.7, Seed = 4 },
        ];
        var sampler = new DiffusionSampler(lm, ByteTokenizer.Mask);
        int[][] alone = [.. prompts.Select((p, i) => sampler.Generate([.. tok.Encode(p)], knobs[i]).Canvas)];
        // The first forward waits until every request is submitted, so the others join while it runs (a tiny model
        // could otherwise finish the first request before the next one arrives).
        using var gate = new ManualResetEventSlim(false);
        var batcher = new ContinuousBatcher(new GatedCachingModel(lm, gate), ByteTokenizer.Mask, ByteTokenizer.Eos);
        Task<GenerationResult>[] running = [.. prompts.Select((p, i) => batcher.GenerateAsync([.. tok.Encode(p)], knobs[i], cancellationToken: Ct))];
        gate.Set();
        GenerationResult[] batched = await Task.WhenAll(running);
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(alone[i], batched[i].Canvas);
        Assert.True(batcher.ForwardRows > batcher.Forwards, "no forward was shared");
    }
}

/// <summary>A caching <see cref="FakeModel"/> whose every call first waits for a gate.</summary>
internal sealed class GatedCachingModel(ICachingDenoisingModel inner, ManualResetEventSlim gate) : ICachingDenoisingModel
{
    public int VocabSize => inner.VocabSize;
    public int MaxSequenceLength => inner.MaxSequenceLength;
    public int DiffusionBlockSize => inner.DiffusionBlockSize;
    public void LogitsAt(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> rows, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        gate.Wait(TimeSpan.FromSeconds(30));
        inner.LogitsAt(tokens, batch, length, rows, logits, keyMask);
    }
    public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        gate.Wait(TimeSpan.FromSeconds(30));
        inner.Logits(tokens, batch, length, positions, logits, keyMask);
    }
    public void Refresh(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default, bool reusePrefix = false)
    {
        gate.Wait(TimeSpan.FromSeconds(30));
        inner.Refresh(tokens, batch, length, positions, logits, keyMask, reusePrefix);
    }
    public void LogitsInWindow(ReadOnlySpan<int> tokens, int batch, int length, int start, int end, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        gate.Wait(TimeSpan.FromSeconds(30));
        inner.LogitsInWindow(tokens, batch, length, start, end, positions, logits, keyMask);
    }
}
