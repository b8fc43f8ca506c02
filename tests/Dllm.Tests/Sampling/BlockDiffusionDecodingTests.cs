using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tests.Training;
using Xunit;

namespace Dllm.Tests.Sampling;

/// <summary>
/// Block diffusion decoding (SDAR, Fast-dLLM v2, LLaDA2, BD3-LM): the grid plan, the commit rule the models
/// ship, and the exact KV cache — cached and uncached runs commit the same tokens with the same forward
/// count, and a cached run computes each finished block once.
/// </summary>
public class BlockDiffusionDecodingTests
{
    private const int Vocab = 32, Mask = 31, Eos = 30;

    private static ModelConfig Config(string layout) => layout switch
    {
        "llada" => TestConfigs.Tiny(16, 2, 1, 2, 24, Vocab, 64, eos: Eos, mask: Mask).As(ModelKind.BlockDiffusion, 4),
        "sdar" => (TestConfigs.Tiny(16, 2, 1, 2, 24, Vocab, 64, eos: Eos, mask: Mask) with { ExplicitHeadDim = 6 })
            .WithFamily(ModelFamily.Sdar).As(ModelKind.BlockDiffusion, 4),
        "fastdllm" => TestConfigs.Tiny(16, 2, 1, 2, 24, Vocab, 64, eos: Eos, mask: Mask).WithFamily(ModelFamily.FastDllmV2).As(ModelKind.BlockDiffusion, 8),
        _ => throw new ArgumentException(layout),
    };

    private static Transformer Model(string layout, int seed = 1) => ModelGradientTests.RandomModel(Config(layout), seed).Model;

    public static TheoryData<string, string, int> Cases => new()
    {
        { "llada", "schedule", 5 }, { "llada", "dynamic", 8 }, { "sdar", "dynamic", 6 }, { "sdar", "schedule", 4 },
        { "fastdllm", "threshold-sub", 5 }, { "fastdllm", "threshold-sub", 16 }, { "fastdllm", "dynamic", 9 },
    };

    private static DecodingOptions Options(string rule, int grid) => rule switch
    {
        "schedule" => new DecodingOptions { GenLength = 16, Steps = 16 },
        "dynamic" => new DecodingOptions { GenLength = 16, Steps = 16, Commit = CommitRule.Dynamic, Threshold = 0.2 },
        "threshold-sub" => new DecodingOptions { GenLength = 16, Steps = 16, Commit = CommitRule.Threshold, Threshold = 0.2, SubBlockLength = 3 },
        _ => throw new ArgumentException(rule),
    };

    private static int[] Prompt(int length) => Enumerable.Range(0, length).Select(i => (i * 7 + 3) % 29).ToArray();

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_exact_cache_commits_the_same_tokens_with_the_same_forwards(string layout, string rule, int promptLength)
    {
        using Transformer model = Model(layout);
        DecodingOptions o = Options(rule, model.DiffusionBlockSize);
        GenerationResult plain = new DiffusionSampler(model, Mask).Generate(Prompt(promptLength), o);
        var spy = new WindowSpy(model);
        GenerationResult cached = new DiffusionSampler(spy, Mask).Generate(Prompt(promptLength), o with { Cache = CacheMode.Prefix });
        Assert.Equal(plain.Canvas, cached.Canvas);
        Assert.Equal(promptLength + 16, cached.Canvas.Length);
        Assert.DoesNotContain(Mask, cached.Answer.ToArray());
        // One forward per denoising step with masks left, cached or not: no refresh, no separate store pass
        // (the fixed schedule's last step of a partial block commits nothing and runs no forward).
        if (rule != "schedule") Assert.Equal(plain.Steps, plain.ForwardPasses);
        Assert.Equal(plain.ForwardPasses, cached.ForwardPasses);
        Assert.Equal(cached.ForwardPasses, cached.WindowForwards);
        Assert.Equal(0, spy.FullCalls);
        // Each window starts where the rows known final end and spans at most the previous and the current block.
        int grid = model.DiffusionBlockSize;
        Assert.Equal(0, spy.Windows[0].Start);
        foreach (var (start, end) in spy.Windows.Skip(1))
        {
            Assert.Equal(0, start % grid);
            Assert.Equal(0, end % grid);
            Assert.True(end - start <= 2 * grid, $"window [{start}, {end}) spans more than two blocks of {grid}");
        }
    }

    [Fact]
    public void Rows_of_finished_blocks_are_computed_once_and_the_prompt_with_the_first_block()
    {
        using Transformer model = Model("llada");
        var spy = new WindowSpy(model);
        var o = new DecodingOptions { GenLength = 16, Steps = 16, Cache = CacheMode.Prefix };
        new DiffusionSampler(spy, Mask).Generate(Prompt(9), o);
        // Prompt 9 on blocks of 4: canvas 28, blocks [8,12) (3 masks: 3 forwards) then four blocks of 4 masks (4 each).
        // First call [0, 12): prompt and first block together; then [8, 12) twice. Each later block's first step
        // also recomputes the block before it with its final tokens ([s − 4, s + 4), 8 rows), then 3 × 4 rows.
        long rows = spy.Windows.Sum(w => (long)(w.End - w.Start));
        Assert.Equal(new (int, int)[] { (0, 12), (8, 12), (8, 12), (8, 16), (12, 16) }, spy.Windows.Take(5));
        Assert.Equal(12 + 2 * 4 + 4 * (8 + 3 * 4), rows);
    }

    [Fact]
    public void The_plan_follows_the_models_grid_and_fast_dllm_v2_sub_blocks()
    {
        Assert.Equal(16, BlockGridPlan.CanvasLength(5, 8, 4));
        Assert.Equal(new[] { (4, 8), (8, 12), (12, 16) }, BlockGridPlan.Blocks(5, 16, 4, null));
        Assert.Equal(new[] { (4, 6), (6, 8), (8, 9), (8, 10), (10, 12), (12, 13), (12, 14), (14, 16) }, BlockGridPlan.Blocks(5, 16, 4, 2));
        Assert.Equal(new[] { (8, 9), (8, 12) }, BlockGridPlan.Blocks(8, 12, 4, 4));
    }

    [Fact]
    public void Knobs_that_fight_the_grid_name_themselves()
    {
        using Transformer model = Model("llada");
        var sampler = new DiffusionSampler(model, Mask);
        Assert.Equal("block_length", Assert.Throws<DecodingOptionException>(() =>
            sampler.Generate(Prompt(3), new DecodingOptions { GenLength = 16, Steps = 16, BlockLength = 8 })).Knob);
        Assert.Equal("steps", Assert.Throws<DecodingOptionException>(() =>
            sampler.Generate(Prompt(3), new DecodingOptions { GenLength = 16, Steps = 6 })).Knob);
        Assert.Equal("sub_block_length", Assert.Throws<DecodingOptionException>(() =>
            sampler.Generate(Prompt(3), new DecodingOptions { GenLength = 16, Steps = 16, SubBlockLength = 5 })).Knob);
        using Transformer bidirectional = ModelGradientTests.RandomModel(Config("llada").As(ModelKind.MaskedDiffusion), 1).Model;
        Assert.Equal("sub_block_length", Assert.Throws<DecodingOptionException>(() =>
            new DiffusionSampler(bidirectional, Mask).Generate(Prompt(3), new DecodingOptions { GenLength = 16, Steps = 16, SubBlockLength = 2 })).Knob);
    }

    [Fact]
    public void Prompts_of_different_lengths_decode_as_if_alone()
    {
        using Transformer model = Model("sdar");
        var sampler = new DiffusionSampler(model, Mask);
        var o = new DecodingOptions { GenLength = 8, Steps = 8, Commit = CommitRule.Dynamic, Threshold = 0.2 };
        int[][] prompts = [Prompt(3), Prompt(6), Prompt(6)];
        IReadOnlyList<GenerationResult> batch = sampler.GenerateBatch(prompts, o, padId: 0);
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(sampler.Generate(prompts[i], o).Canvas, batch[i].Canvas);
    }

    [Theory]
    [InlineData("llada")]
    [InlineData("fastdllm")]
    public void A_next_turn_reuses_the_cached_prefix_exactly(string layout)
    {
        using Transformer model = Model(layout), fresh = Model(layout);
        var o = new DecodingOptions { GenLength = 16, Steps = 16, Cache = CacheMode.Prefix };
        int[] first = Prompt(9);
        GenerationResult turn1 = new DiffusionSampler(model, Mask).Generate(first, o);
        // The next turn's prompt: the whole first exchange plus a new question.
        int[] second = [.. turn1.Canvas, 5, 6, 7];
        long before = model.ReusedCacheRows;
        GenerationResult turn2 = new DiffusionSampler(model, Mask).Generate(second, o);
        int grid = model.DiffusionBlockSize;
        Assert.True(model.ReusedCacheRows - before >= (turn1.Canvas.Length / grid - 1) * grid,
            $"reused {model.ReusedCacheRows - before} rows of a {turn1.Canvas.Length}-token shared prefix");
        Assert.Equal(new DiffusionSampler(fresh, Mask).Generate(second, o).Canvas, turn2.Canvas);
        Assert.Equal(new DiffusionSampler(fresh, Mask).Generate(second, o with { Cache = CacheMode.None }).Canvas, turn2.Canvas);
        // A prompt that differs early reuses only what it shares.
        int[] other = [.. second];
        other[1] = (other[1] + 1) % 29;
        before = model.ReusedCacheRows;
        Assert.Equal(new DiffusionSampler(fresh, Mask).Generate(other, o).Canvas, new DiffusionSampler(model, Mask).Generate(other, o).Canvas);
        Assert.Equal(before, model.ReusedCacheRows);
    }

    [Theory]
    [InlineData("sdar")]
    [InlineData("fastdllm")]
    public void Prompts_of_one_length_share_the_exact_cache_and_decode_as_if_alone(string layout)
    {
        using Transformer model = Model(layout), alone = Model(layout);
        var o = new DecodingOptions { GenLength = 16, Steps = 16, Commit = CommitRule.Dynamic, Threshold = 0.2, Cache = CacheMode.Prefix };
        int[][] prompts = [Prompt(6), [.. Prompt(6).Select(t => (t + 3) % 29)], Prompt(9), [.. Prompt(6).Reverse()]];
        IReadOnlyList<GenerationResult> batch = new DiffusionSampler(model, Mask).GenerateBatch(prompts, o, padId: 0);
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(new DiffusionSampler(alone, Mask).Generate(prompts[i], o with { Cache = CacheMode.None }).Canvas, batch[i].Canvas);
    }

    [Fact]
    public void A_later_block_never_changes_an_earlier_position()
    {
        using Transformer model = Model("llada");
        int[] a = Prompt(12), b = (int[])a.Clone();
        for (int i = 8; i < 12; i++) b[i] = Mask; // the last block differs
        var la = new float[8 * Vocab];
        var lb = new float[8 * Vocab];
        int[] first = [0, 1, 2, 3, 4, 5, 6, 7];
        model.Logits(a, 1, 12, first, la);
        model.Logits(b, 1, 12, first, lb);
        Assert.Equal(la, lb);
    }

    /// <summary>Forwards to a transformer and records the window of every cached call.</summary>
    private sealed class WindowSpy(Transformer inner) : ICachingDenoisingModel
    {
        public readonly List<(int Start, int End)> Windows = [];
        public int FullCalls;
        public int VocabSize => inner.VocabSize;
        public int MaxSequenceLength => inner.MaxSequenceLength;
        public int DiffusionBlockSize => inner.DiffusionBlockSize;

        public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
        { FullCalls++; inner.Logits(tokens, batch, length, positions, logits, keyMask); }

        public void Refresh(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default, bool reusePrefix = false)
        { FullCalls++; inner.Refresh(tokens, batch, length, positions, logits, keyMask, reusePrefix); }

        public void LogitsInWindow(ReadOnlySpan<int> tokens, int batch, int length, int start, int end, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
        { Windows.Add((start, end)); inner.LogitsInWindow(tokens, batch, length, start, end, positions, logits, keyMask); }
    }
}
