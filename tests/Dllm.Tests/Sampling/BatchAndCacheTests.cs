using Dllm.Sampling;
using Xunit;

namespace Dllm.Tests.Sampling;

/// <summary>Batches of different-length prompts, and the KV-cache modes.</summary>
public class BatchAndCacheTests
{
    private const int Vocab = 9, Mask = 8, Pad = 0;
    private static readonly int[][] Prompts = [[3, 4], [5, 6, 7, 1, 2], [2, 2, 3]];

    public static TheoryData<int, CommitRule, double, double, OrderingRule, bool, CacheMode> BatchConfigs() => new()
    {
        { 0, CommitRule.Schedule, 0, 0, OrderingRule.LowConfidence, false, CacheMode.None },
        { 1, CommitRule.Schedule, 0.8, 0, OrderingRule.Random, false, CacheMode.None },
        { 2, CommitRule.Threshold, 0.5, 0, OrderingRule.LowConfidence, false, CacheMode.None },
        { 3, CommitRule.Dream, 0, 1.5, OrderingRule.Entropy, false, CacheMode.None },
        { 4, CommitRule.Schedule, 0.7, 0, OrderingRule.LowConfidence, true, CacheMode.None },   // early stop: sequences finish apart
        { 5, CommitRule.Schedule, 0.7, 1.0, OrderingRule.LowConfidence, false, CacheMode.Dual }, // lockstep schedule: exact with a cache too
        { 6, CommitRule.Schedule, 0, 0, OrderingRule.TopKMargin, false, CacheMode.Prefix },
    };

    [Theory]
    [MemberData(nameof(BatchConfigs))]
    public void EachPromptOfABatchDecodesAsItWouldAlone(int seed, CommitRule rule, double temperature, double cfg,
        OrderingRule kind, bool earlyStop, CacheMode cache)
    {
        var options = new DecodingOptions
        {
            GenLength = 8, Steps = 4, BlockLength = 4, Temperature = temperature, CfgScale = cfg, Ordering = kind, Seed = seed,
            Commit = rule, Threshold = 0.3, EarlyStop = earlyStop, EosId = 1, Cache = cache,
        };
        var batchModel = new FakeModel(Vocab, Rows.Hashed);
        var batchSteps = new List<DenoisingStep>();
        IReadOnlyList<GenerationResult> batch = new DiffusionSampler(batchModel, Mask).GenerateBatch(Prompts, options, Pad, onStep: batchSteps.Add);

        for (int i = 0; i < Prompts.Length; i++)
        {
            var alone = new List<DenoisingStep>();
            GenerationResult single = new DiffusionSampler(new FakeModel(Vocab, Rows.Hashed), Mask).Generate(Prompts[i], options, alone.Add);
            Assert.Equal(single.Canvas, batch[i].Canvas);
            Assert.Equal(Prompts[i].Length, batch[i].PromptLength);
            Assert.Equal(single.ForwardPasses, batch[i].ForwardPasses);
            Assert.Equal(single.StoppedEarly, batch[i].StoppedEarly);
            DenoisingStep[] mine = [.. batchSteps.Where(s => s.Sequence == i)];
            Assert.Equal(alone.Select(s => s.CommittedPositions), mine.Select(s => s.CommittedPositions));
            Assert.Equal(alone.Select(s => s.Canvas), mine.Select(s => s.Canvas));
        }
        // Padding reached the model hidden: key mask 0 exactly on the left pads.
        ModelCall first = batchModel.Calls[0];
        int rows = cfg > 0 ? 6 : 3;
        Assert.Equal(rows, first.Batch);
        for (int b = 0; b < rows; b++)
        {
            int pad = 5 - Prompts[b % 3].Length;
            Assert.Equal([.. Enumerable.Repeat((byte)0, pad), .. Enumerable.Repeat((byte)1, 13 - pad)], first.KeyMask[(b * 13)..((b + 1) * 13)]);
            Assert.All(first.Tokens[(b * 13)..(b * 13 + pad)], t => Assert.Equal(Pad, t));
        }
        Assert.True(batchModel.Calls.Count < 3 * batch.Max(r => r.ForwardPasses) || batch.All(r => r.ForwardPasses == 0));
    }

    [Theory]
    [InlineData(CacheMode.Prefix)]
    [InlineData(CacheMode.Dual)]
    public void CachedDecodingRefreshesAtEachBlockStartAndUsesTheModesWindow(CacheMode mode)
    {
        var model = new FakeModel(Vocab, Rows.Hashed);
        var steps = new List<DenoisingStep>();
        var options = new DecodingOptions { GenLength = 12, Steps = 12, BlockLength = 4, Cache = mode };
        GenerationResult r = new DiffusionSampler(model, Mask).Generate([1, 2, 3], options, steps.Add);
        Assert.Equal(12, model.Calls.Count);
        Assert.Equal(12, r.ForwardPasses);
        Assert.Equal(9, r.WindowForwards);
        for (int i = 0; i < 12; i++)
        {
            ModelCall c = model.Calls[i];
            int block = i / 4, start = 3 + 4 * block;
            if (i % 4 == 0) Assert.Equal("refresh", c.Kind);
            else
            {
                Assert.Equal("window", c.Kind);
                Assert.Equal(start, c.Start);
                Assert.Equal(mode == CacheMode.Prefix ? 15 : start + 4, c.End);
            }
            Assert.All(c.Positions, p => Assert.InRange(p, start, start + 3));
        }
        Assert.DoesNotContain(Mask, r.Canvas);
    }

    [Theory]
    [InlineData(CacheMode.Prefix, CommitRule.Schedule)]
    [InlineData(CacheMode.Dual, CommitRule.Threshold)]
    [InlineData(CacheMode.Dual, CommitRule.Dream)]
    public void RefreshEveryStepCallsOnlyRefreshAndEqualsTheUncachedSampler(CacheMode mode, CommitRule rule)
    {
        var g = new DecodingOptions { GenLength = 12, Steps = 12, BlockLength = 4, Temperature = 0.6, Seed = 5, CfgScale = 0.5 };
        var uncachedSteps = new List<DenoisingStep>();
        GenerationResult uncached = new DiffusionSampler(new FakeModel(Vocab, Rows.Hashed), Mask)
            .Generate([1, 2, 3], g with { Commit = rule, Threshold = 0.3 }, uncachedSteps.Add);
        var model = new FakeModel(Vocab, Rows.Hashed);
        var cachedSteps = new List<DenoisingStep>();
        GenerationResult cached = new DiffusionSampler(model, Mask)
            .Generate([1, 2, 3], g with { Commit = rule, Threshold = 0.3, Cache = mode, RefreshInterval = 1 }, cachedSteps.Add);
        Assert.All(model.Calls, c => Assert.Equal("refresh", c.Kind));
        Assert.Equal(uncached.Canvas, cached.Canvas);
        Assert.Equal(uncached.ForwardPasses, cached.ForwardPasses);
        Assert.Equal(0, cached.WindowForwards);
        Assert.Equal(uncachedSteps.Select(s => s.CommittedPositions), cachedSteps.Select(s => s.CommittedPositions));
    }

    [Fact]
    public void RefreshIntervalAlternatesWithinABlock()
    {
        var model = new FakeModel(Vocab, Rows.Hashed);
        new DiffusionSampler(model, Mask).Generate([1], new DecodingOptions
        {
            GenLength = 8, Steps = 8, BlockLength = 4, Cache = CacheMode.Dual, RefreshInterval = 2,
        });
        Assert.Equal(["refresh", "window", "refresh", "window", "refresh", "window", "refresh", "window"], model.Calls.Select(c => c.Kind));
    }

    [Fact]
    public void AStaleCacheIsVisible()
    {
        // Without refreshes inside a block the window rows see the prefix as it was: the fake is a real
        // approximation, so the equality above is not vacuous.
        var g = new DecodingOptions { GenLength = 12, Steps = 12, BlockLength = 12, Temperature = 0 };
        GenerationResult exact = new DiffusionSampler(new FakeModel(Vocab, Rows.Hashed), Mask).Generate([1, 2, 3], g);
        GenerationResult prefix = new DiffusionSampler(new FakeModel(Vocab, Rows.Hashed), Mask).Generate([1, 2, 3], g with { Cache = CacheMode.Dual });
        Assert.NotEqual(exact.Canvas, prefix.Canvas);
    }

    [Fact]
    public void ACacheNeedsACachingModel()
    {
        var plain = new PlainModel(new FakeModel(Vocab, Rows.Hashed));
        var e = Assert.Throws<NotSupportedException>(() => new DiffusionSampler(plain, Mask).Generate([1], new DecodingOptions
        {
            GenLength = 4, Steps = 4, BlockLength = 4, Cache = CacheMode.Prefix,
        }));
        Assert.Contains("ICachingDenoisingModel", e.Message);
        Assert.Contains("prefix", e.Message);
    }
}
