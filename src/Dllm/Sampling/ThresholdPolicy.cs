namespace Dllm.Sampling;

/// <summary>
/// Fast-dLLM's confidence-aware parallel decoding (Wu et al. 2025, arXiv 2505.22618, §3.3; NVlabs/Fast-dLLM
/// get_transfer_index with <c>threshold</c>): at each step commit every candidate whose score is
/// ≥ τ, and always at least the best one. Steps per block therefore vary: a block whose predictions
/// are all confident finishes in one step, a block with none above τ takes one step per token.
/// </summary>
/// <remarks>
/// The block continues while it has masked positions; the step budget (Steps) is not used. Scores
/// must be probabilities (low_confidence, topk_margin, random); τ = 1 commits one token per step
/// unless the model is certain. Ties at τ are committed (≥).
/// </remarks>
public sealed class ThresholdPolicy : ICommitPolicy
{
    /// <summary>The confidence level τ in (0, 1].</summary>
    public double Threshold { get; }

    public ThresholdPolicy(double threshold)
    {
        if (!(threshold > 0 && threshold <= 1)) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "threshold must be in (0, 1]");
        Threshold = threshold;
    }

    public string Name => "threshold";
    public bool NeedsProbabilityScores => true;

    public bool ContinueBlock(in BlockProgress progress) => progress.MaskedInBlock > 0;

    public int[] Select(ReadOnlySpan<double> scores, in BlockProgress progress, Random rng)
    {
        if (scores.IsEmpty) return [];
        int[] order = Selection.TopK(scores, scores.Length);
        int n = 1; // the best one always
        while (n < order.Length && scores[order[n]] >= Threshold) n++;
        return order[..n];
    }
}
