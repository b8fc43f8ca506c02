namespace Dllm.Sampling;

/// <summary>
/// Top-k margin ordering (Kim et al. 2025, "Train for the worst, plan for the best"; Dream's
/// <c>topk_margin</c>): p(1) − p(2), the gap between the two most probable tokens of softmax(logits).
/// A position the model hesitates between two tokens scores near 0 even when both are likely.
/// </summary>
/// <remarks>Independent of the chosen token (as in Dream). A one-token vocabulary scores 1. Ties between
/// the two best give 0. Float64.</remarks>
public sealed class TopKMarginOrdering : IOrdering
{
    public static readonly TopKMarginOrdering Instance = new();
    public string Name => "topk_margin";
    public bool IsProbability => true;

    public double Score(ReadOnlySpan<float> logits, int token, Random rng)
    {
        if (logits.Length == 1) return 1;
        // The two largest logits, then their probabilities: p = exp(l − max)/Σ.
        float first = float.NegativeInfinity, second = float.NegativeInfinity;
        foreach (float l in logits)
        {
            if (l > first) { second = first; first = l; }
            else if (l > second) second = l;
        }
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - (double)first);
        return (1 - Math.Exp(second - (double)first)) / sum;
    }
}
