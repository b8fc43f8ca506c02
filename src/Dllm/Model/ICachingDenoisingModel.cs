namespace Dllm.Model;

/// <summary>
/// A mask predictor that can keep the keys and values of a canvas between steps (Fast-dLLM's
/// block-wise approximate KV cache, Wu et al. 2025). <see cref="Refresh"/> runs the whole canvas and
/// stores every layer's K/V; <see cref="LogitsInWindow"/> then recomputes only the rows of a window
/// [start, end) and lets them attend to the stored K/V everywhere else. A prefix cache uses the
/// window [block start, length); a dual cache uses [block start, block end). For a bidirectional
/// model this is an approximation (cached rows do not see the window's new tokens) that the sampler
/// bounds by refreshing at every block start; refreshed every step it is exact.
/// </summary>
public interface ICachingDenoisingModel : IDenoisingModel
{
    /// <summary>Full forward of [batch × length] tokens, storing K/V; logits as <see cref="IDenoisingModel.Logits"/>.
    /// With <paramref name="reusePrefix"/> and a single canvas, leading rows whose tokens equal those the cache last
    /// stored (before the first position asked for) keep their cached K/V instead of being recomputed
    /// (<see cref="Sampling.DecodingOptions.ReusePrefix"/>: approximate under bidirectional attention).</summary>
    void Refresh(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default, bool reusePrefix = false);

    /// <summary>
    /// Forward of the window rows only. <paramref name="tokens"/> is the whole current canvas
    /// [batch × length] (same batch and length as the last refresh); only rows in [start, end) are
    /// read. <paramref name="positions"/> must lie in the window. Cached K/V outside the window are
    /// used as they were last stored; the window's own K/V replace the cached ones (Fast-dLLM's
    /// replace_position), so for a block diffusion model (<see cref="IDenoisingModel.DiffusionBlockSize"/>)
    /// rows computed once with final tokens stay exact. Without a cache of this batch × length, a window
    /// may start one when it begins at 0 and its rows see no key at or after its end (a block diffusion
    /// model's window ending on a block boundary): the cache then fills window by window, no refresh needed.
    /// </summary>
    /// <exception cref="InvalidOperationException">No refresh yet, or the batch/length changed since (and the
    /// window cannot start a cache).</exception>
    void LogitsInWindow(ReadOnlySpan<int> tokens, int batch, int length, int start, int end,
        ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default);
}
