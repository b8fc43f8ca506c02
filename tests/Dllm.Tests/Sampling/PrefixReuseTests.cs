using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tests.Training;
using Xunit;

namespace Dllm.Tests.Sampling;

/// <summary>
/// Opt-in prefix reuse on a bidirectional model (<c>reuse_prefix</c> with a cache): a refresh of one canvas keeps the
/// cached rows of the leading tokens it shares with the canvas the cache last stored, up to the first position asked
/// for. Exact when nothing after those rows changed; otherwise approximate, like the cache itself. Off, nothing changes.
/// </summary>
public class PrefixReuseTests
{
    private const int Vocab = 32, Mask = 31, Eos = 30;

    private static Transformer Model(int seed = 1) => ModelGradientTests.RandomModel(
        TestConfigs.Tiny(16, 2, 1, 2, 24, Vocab, 64, eos: Eos, mask: Mask).As(ModelKind.MaskedDiffusion), seed).Model;

    private static int[] Canvas(int prompt, int answer)
        => [.. Enumerable.Range(0, prompt).Select(i => (i * 7 + 3) % 29), .. Enumerable.Repeat(Mask, answer)];

    [Fact]
    public void The_same_canvas_refreshed_again_reuses_its_prompt_rows_and_gets_the_same_logits()
    {
        using Transformer model = Model(), fresh = Model();
        int[] canvas = Canvas(10, 6);
        int[] positions = [.. Enumerable.Range(10, 6)];
        var expected = new float[positions.Length * Vocab];
        fresh.Refresh(canvas, 1, canvas.Length, positions, expected);

        var first = new float[expected.Length];
        model.Refresh(canvas, 1, canvas.Length, positions, first, reusePrefix: true); // nothing cached yet
        Assert.Equal(0, model.ReusedCacheRows);
        var again = new float[expected.Length];
        model.Refresh(canvas, 1, canvas.Length, positions, again, reusePrefix: true);
        Assert.Equal(10, model.ReusedCacheRows); // the rows before the first position asked for
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], again[i], 4e-5f);

        // Without the flag a refresh recomputes everything.
        model.Refresh(canvas, 1, canvas.Length, positions, again);
        Assert.Equal(10, model.ReusedCacheRows);
    }

    [Fact]
    public void Only_the_shared_prefix_before_the_first_asked_position_is_reused_and_batches_never_reuse()
    {
        using Transformer model = Model();
        int[] a = Canvas(10, 6);
        int[] positions = [.. Enumerable.Range(10, 6)];
        var logits = new float[positions.Length * Vocab];
        model.Refresh(a, 1, a.Length, positions, logits, reusePrefix: true);
        int[] b = [.. a];
        b[7] = (b[7] + 1) % 29; // differs at 7: rows 0..6 are reusable
        model.Refresh(b, 1, b.Length, positions, logits, reusePrefix: true);
        Assert.Equal(7, model.ReusedCacheRows);
        // A longer canvas with the same prompt reuses up to the prompt, whatever the length.
        int[] longer = Canvas(10, 12);
        model.Refresh(longer, 1, longer.Length, [.. Enumerable.Range(10, 12)], new float[12 * Vocab], reusePrefix: true);
        Assert.Equal(7 + 7, model.ReusedCacheRows); // b (as stored) shares rows 0..6 with it
        // Two canvases at once: no reuse.
        int[] two = [.. a, .. a];
        model.Refresh(two, 2, a.Length, [10], new float[2 * Vocab], reusePrefix: true);
        Assert.Equal(14, model.ReusedCacheRows);
    }

    [Fact]
    public void A_next_turn_reuses_the_history_only_when_asked_and_off_it_decodes_as_a_fresh_model()
    {
        using Transformer model = Model(), fresh = Model();
        var o = new DecodingOptions { GenLength = 8, Steps = 8, BlockLength = 4, Cache = CacheMode.Dual };
        int[] first = Canvas(9, 0);
        GenerationResult turn1 = new DiffusionSampler(model, Mask).Generate(first, o);
        int[] second = [.. turn1.Canvas, 5, 6, 7];
        // Off (the default): the cached rows of turn 1 change nothing.
        Assert.Equal(new DiffusionSampler(fresh, Mask).Generate(second, o).Canvas, new DiffusionSampler(model, Mask).Generate(second, o).Canvas);
        Assert.Equal(0, model.ReusedCacheRows);
        // On: the history's rows are reused at every refresh of the next turn (each block start).
        GenerationResult reused = new DiffusionSampler(model, Mask).Generate(second, o with { ReusePrefix = true });
        Assert.True(model.ReusedCacheRows >= 2 * second.Length, $"reused {model.ReusedCacheRows} rows over two refreshes of a {second.Length}-token prompt");
        Assert.Equal(second, reused.Canvas[..second.Length]);
        Assert.DoesNotContain(Mask, reused.Canvas);
    }

    [Fact]
    public void Reuse_without_a_cache_is_refused_naming_the_knob()
    {
        using Transformer model = Model();
        var e = Assert.Throws<DecodingOptionException>(() => new DiffusionSampler(model, Mask)
            .Generate(Canvas(4, 0), new DecodingOptions { GenLength = 4, Steps = 4, ReusePrefix = true }));
        Assert.Equal("reuse_prefix", e.Knob);
        Assert.Contains("needs a cache", e.Message);
    }
}
