using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>
/// BD3-LM's training loss (Arriola et al. 2025, arXiv 2503.09573, Eq. 8 and §3.2; kuleshov-group/bd3lms):
/// blocks of B tokens, each block b of each sequence noised at its own level t_b ~ U[β, ω] (the clipped
/// schedule of §5: the paper tunes [β, ω] per block size to cut the variance of the gradient; [ε, 1] gives
/// the unbiased bound), every token of the block masked independently with probability t_b (the linear
/// schedule α_t = 1 − t), and
/// <code>   loss = Σ_b Σ_{masked i in b} CE(x̂_i, x_i) / t_b  /  (batch·L)   </code>
/// One forward trains every block: the model sees the two halves [x_t ; x_0] (a canvas of 2L, both at positions
/// 0..L−1) with <see cref="AttentionPattern.BlockDiffusionPair"/>, so block b of x_t attends to itself and to
/// the clean blocks before it, exactly what the block-causal model sees when it decodes block b.
/// </summary>
public sealed class BlockDiffusionObjective
{
    public int MaskTokenId { get; }
    public int BlockSize { get; }
    /// <summary>β and ω: the range each block's masking rate is drawn from.</summary>
    public double NoiseMin { get; }
    public double NoiseMax { get; }

    /// <exception cref="ArgumentOutOfRangeException">blockSize &lt; 1, or not 0 &lt; β ≤ ω ≤ 1.</exception>
    /// <summary>Complementary masking (Fast-dLLM v2's training): each noised sequence is paired with its complement
    /// (block rates 1 − t_b); the batch doubles and every token gets a loss in every step.</summary>
    public bool Complementary { get; init; }

    public BlockDiffusionObjective(int maskTokenId, int blockSize, double noiseMin = 0.3, double noiseMax = 0.8)
    {
        if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "must be at least 1");
        if (!(noiseMin > 0 && noiseMin <= noiseMax && noiseMax <= 1))
            throw new ArgumentOutOfRangeException(nameof(noiseMin), $"the noise range [{noiseMin}, {noiseMax}] must satisfy 0 < min ≤ max ≤ 1");
        MaskTokenId = maskTokenId; BlockSize = blockSize; NoiseMin = noiseMin; NoiseMax = noiseMax;
    }

    /// <summary>
    /// Noises a clean batch [batch × length] (length a multiple of the block size). Random draws, in order: per
    /// sequence, per block, t_b then one uniform per token of the block.
    /// </summary>
    /// <exception cref="ArgumentException">The shapes do not match, or length is not a multiple of the block size.</exception>
    public TrainingBatch Sample(ReadOnlySpan<int> clean, int batch, int length, Random rng)
    {
        if (clean.Length != batch * length) throw new ArgumentException($"clean has {clean.Length} ids, expected {batch}x{length}");
        var (masked, t) = Draw(batch, length, new int[batch], rng);
        if (!Complementary) return Build(clean, batch, length, BlockSize, masked, t, MaskTokenId);
        int[] both = [.. clean, .. clean];
        bool[] masks = [.. masked, .. masked.Select(m => !m)];
        double[] rates = [.. t, .. t.Select(x => 1 - x)];
        return Build(both, 2 * batch, length, BlockSize, masks, rates, MaskTokenId);
    }

    /// <summary>
    /// Supervised fine-tuning of a block diffusion model (LLaDA's SFT, Eq. 5, on BD3's blocks): the prompt is never
    /// masked; each block's answer positions are masked at the block's rate. <paramref name="padded"/> is prompt +
    /// EOS-padded answer per row, [batch × length], length a multiple of the block size. Draws as <see cref="Sample"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The shapes do not match, or length is not a multiple of the block size.</exception>
    public TrainingBatch SampleAnswers(ReadOnlySpan<int> padded, int batch, int length, ReadOnlySpan<int> promptLengths, Random rng)
    {
        if (padded.Length != batch * length || promptLengths.Length != batch) throw new ArgumentException("padded or promptLengths do not match batch x length");
        var (masked, t) = Draw(batch, length, promptLengths, rng);
        return Build(padded, batch, length, BlockSize, masked, t, MaskTokenId);
    }

    /// <summary>Per sequence, per block: t_b, then one uniform per position of the block; positions before the
    /// sequence's prompt length are never masked.</summary>
    /// <exception cref="ArgumentException">length is not a multiple of the block size.</exception>
    private (bool[] Masked, double[] T) Draw(int batch, int length, ReadOnlySpan<int> promptLengths, Random rng)
    {
        if (length % BlockSize != 0) throw new ArgumentException($"sequence length {length} is not a multiple of the block size {BlockSize}");
        int blocks = length / BlockSize;
        var masked = new bool[batch * length];
        var t = new double[batch * blocks];
        for (int b = 0; b < batch; b++)
            for (int k = 0; k < blocks; k++)
            {
                double tb = t[b * blocks + k] = NoiseMin + (NoiseMax - NoiseMin) * rng.NextDouble();
                for (int i = k * BlockSize; i < (k + 1) * BlockSize; i++) masked[b * length + i] = rng.NextDouble() < tb && i >= promptLengths[b];
            }
        return (masked, t);
    }

    /// <summary>
    /// The deterministic half: the [x_t ; x_0] canvases [batch × 2L], targets at the masked x_t rows weighted
    /// 1/(t_b·batch·L). <paramref name="t"/> holds each block's rate, [batch × L/B].
    /// </summary>
    public static TrainingBatch Build(ReadOnlySpan<int> clean, int batch, int length, int blockSize, ReadOnlySpan<bool> masked,
        ReadOnlySpan<double> t, int maskTokenId)
    {
        int blocks = length / blockSize;
        if (clean.Length != batch * length || masked.Length != batch * length || t.Length != batch * blocks)
            throw new ArgumentException("clean, masked and t do not match batch x length (x blocks)");
        var tokens = new int[batch * 2 * length];
        var rows = new List<int>(); var targets = new List<int>(); var weights = new List<float>();
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<int> x0 = clean.Slice(b * length, length);
            Span<int> xt = tokens.AsSpan(b * 2 * length, length);
            x0.CopyTo(xt);
            x0.CopyTo(tokens.AsSpan(b * 2 * length + length, length));
            for (int i = 0; i < length; i++)
            {
                if (!masked[b * length + i]) continue;
                double tb = t[b * blocks + i / blockSize];
                if (!(tb > 0 && tb <= 1)) throw new ArgumentOutOfRangeException(nameof(t), tb, "a masking rate must lie in (0, 1]");
                xt[i] = maskTokenId;
                rows.Add(b * 2 * length + i); targets.Add(x0[i]); weights.Add((float)(1.0 / (tb * batch * length)));
            }
        }
        return new TrainingBatch(tokens, batch, 2 * length, rows.ToArray(), targets.ToArray(), weights.ToArray(),
            AttentionPattern.BlockDiffusionPair(blockSize, length));
    }
}
