namespace Dllm.Sampling;

/// <summary>
/// Negative-entropy ordering (Dream 7B, Ye et al. 2025, <c>alg="entropy"</c>): Σ p·ln(p + 1e-10) over
/// softmax(logits), i.e. −H of the predicted distribution. A peaked distribution scores near 0, a flat
/// one over V tokens near −ln V.
/// </summary>
/// <remarks>The 1e-10 inside the log is Dream's, kept so scores match it. Scores are ≤ 0 and not
/// probabilities: a confidence threshold or factor rule does not apply to them (validation refuses
/// the combination). Independent of the chosen token. Float64.</remarks>
public sealed class EntropyOrdering : IOrdering
{
    public static readonly EntropyOrdering Instance = new();
    public string Name => "entropy";
    public bool IsProbability => false;

    public double Score(ReadOnlySpan<float> logits, int token, Random rng)
    {
        // Two passes over the row instead of a vocabulary-sized buffer per position.
        float max = float.NegativeInfinity;
        foreach (float l in logits) if (l > max) max = l;
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - (double)max);
        double s = 0;
        foreach (float l in logits)
        {
            double q = Math.Exp(l - (double)max) / sum;
            s += q * Math.Log(q + 1e-10);
        }
        return s;
    }
}
