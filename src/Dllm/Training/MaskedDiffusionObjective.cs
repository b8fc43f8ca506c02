using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>
/// LLaDA pre-training loss (arXiv 2502.09992 Eq. 3; reference GUIDELINES.md): per sequence
/// t ~ U(0,1), p = (1 − ε)·t + ε, each token is replaced by the mask id independently with
/// probability p, and
/// <code>   loss = Σ_masked CE(x̂, x) / p  /  (B·L)   </code>
/// With probability <see cref="CutProbability"/> the whole batch is first cut to a random length
/// in [1, L] (then L is the cut length). Attention is bidirectional.
/// </summary>
public sealed class MaskedDiffusionObjective
{
    public int MaskTokenId { get; }
    public double Eps { get; }
    public double CutProbability { get; }

    /// <summary>
    /// Complementary masking (LLaDA 1.5 / Fast-dLLM v2 training): each noised sequence is paired with a copy whose
    /// mask is the complement (rate 1 − p, at least ε), so every token gets a loss in every step; the batch doubles.
    /// </summary>
    public bool Complementary { get; }

    public MaskedDiffusionObjective(int maskTokenId, double eps = 1e-3, double cutProbability = 0.01, bool complementary = false)
    {
        if (eps <= 0 || eps > 1) throw new ArgumentOutOfRangeException(nameof(eps), eps, "must lie in (0, 1]");
        if (cutProbability < 0 || cutProbability > 1) throw new ArgumentOutOfRangeException(nameof(cutProbability));
        MaskTokenId = maskTokenId; Eps = eps; CutProbability = cutProbability; Complementary = complementary;
    }

    /// <summary>
    /// Noises a clean batch [batch × length]. Random draws, in order: the cut decision (and the cut
    /// length when cutting), then per sequence t followed by one uniform per token.
    /// A draw with no masked token gives an empty target list (loss 0).
    /// </summary>
    public TrainingBatch Sample(ReadOnlySpan<int> clean, int batch, int length, Random rng)
    {
        if (clean.Length != batch * length) throw new ArgumentException($"clean has {clean.Length} ids, expected {batch}x{length}");
        int len = length;
        if (rng.NextDouble() < CutProbability) len = rng.Next(1, length + 1);
        var tokens = new int[batch * len];
        for (int b = 0; b < batch; b++) clean.Slice(b * length, len).CopyTo(tokens.AsSpan(b * len, len));
        var masked = new bool[batch * len];
        var p = new double[batch];
        for (int b = 0; b < batch; b++)
        {
            p[b] = (1 - Eps) * rng.NextDouble() + Eps;
            for (int i = 0; i < len; i++) masked[b * len + i] = rng.NextDouble() < p[b];
        }
        if (!Complementary) return Build(tokens, batch, len, masked, p, MaskTokenId);
        int[] both = [.. tokens, .. tokens];
        bool[] masks = [.. masked, .. masked.Select(m => !m)];
        double[] rates = [.. p, .. p.Select(x => Math.Max(1 - x, Eps))];
        return Build(both, 2 * batch, len, masks, rates, MaskTokenId);
    }

    /// <summary>
    /// The deterministic half: given which positions are masked and each sequence's p, the noised
    /// batch with targets at masked positions weighted 1/(p·B·L).
    /// </summary>
    public static TrainingBatch Build(ReadOnlySpan<int> clean, int batch, int length, ReadOnlySpan<bool> masked,
        ReadOnlySpan<double> pMask, int maskTokenId)
    {
        if (clean.Length != batch * length || masked.Length != batch * length || pMask.Length != batch)
            throw new ArgumentException("clean, masked and pMask do not match batch x length");
        int[] tokens = clean.ToArray();
        var rows = new List<int>(); var targets = new List<int>(); var weights = new List<float>();
        for (int b = 0; b < batch; b++)
        {
            if (pMask[b] <= 0 || pMask[b] > 1) throw new ArgumentOutOfRangeException(nameof(pMask), pMask[b], "p must lie in (0, 1]");
            float w = (float)(1.0 / (pMask[b] * batch * length));
            for (int i = 0; i < length; i++)
            {
                int r = b * length + i;
                if (!masked[r]) continue;
                rows.Add(r); targets.Add(clean[r]); weights.Add(w);
                tokens[r] = maskTokenId;
            }
        }
        return new TrainingBatch(tokens, batch, length, rows.ToArray(), targets.ToArray(), weights.ToArray(), AttentionPattern.Bidirectional);
    }
}
