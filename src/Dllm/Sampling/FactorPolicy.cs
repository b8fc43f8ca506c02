namespace Dllm.Sampling;

/// <summary>
/// Fast-dLLM's factor-based parallel decoding (Wu et al. 2025, arXiv 2505.22618, Theorem 1 and the
/// "factor" variant of NVlabs/Fast-dLLM get_transfer_index_dynamic): sort the candidates' scores
/// descending, c(1) ≥ c(2) ≥ …, and commit the largest n with c(i) ≥ 1 − f/(i + 1) for every
/// i ≤ n (i 1-based); the best one is always committed. The bound loosens the product-of-marginals
/// error as more tokens are decoded together: committing n tokens is safe when (n + 1)·(1 − c(n)) &lt; f.
/// </summary>
/// <remarks>
/// Because the scores descend and the levels 1 − f/(i+1) ascend, the passing i form a prefix, so
/// "largest n" and "longest passing prefix" agree. Deliberate deviation: the reference code commits
/// all N candidates when only the last one fails (its <c>top_i == len - 1</c> special case); we commit
/// N − 1 then, as the rule states. Continues while the block has masked positions. Large factors
/// commit aggressively: for i + 1 ≤ f the level 1 − f/(i + 1) is ≤ 0, so those positions always pass.
/// </remarks>
public sealed class FactorPolicy : ICommitPolicy
{
    /// <summary>The factor f &gt; 0.</summary>
    public double Factor { get; }

    public FactorPolicy(double factor)
    {
        if (!(factor > 0) || double.IsInfinity(factor)) throw new ArgumentOutOfRangeException(nameof(factor), factor, "factor must be a finite number > 0");
        Factor = factor;
    }

    public string Name => "factor";
    public bool NeedsProbabilityScores => true;

    public bool ContinueBlock(in BlockProgress progress) => progress.MaskedInBlock > 0;

    /// <summary>How many of the descending <paramref name="sorted"/> scores the rule commits (≥ 1 when any).</summary>
    public int Count(ReadOnlySpan<double> sorted)
    {
        if (sorted.IsEmpty) return 0;
        int n = 1;
        while (n < sorted.Length && sorted[n] >= 1 - Factor / (n + 2)) n++; // sorted[n] is c(n+1): level 1 − f/((n+1)+1)
        return n;
    }

    public int[] Select(ReadOnlySpan<double> scores, in BlockProgress progress, Random rng)
    {
        int[] order = Selection.TopK(scores, scores.Length);
        var sorted = new double[order.Length];
        for (int i = 0; i < order.Length; i++) sorted[i] = scores[order[i]];
        return order[..Count(sorted)];
    }
}
