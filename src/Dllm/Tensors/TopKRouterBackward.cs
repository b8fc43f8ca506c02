namespace Dllm.Tensors;

/// <summary>
/// Backward of <see cref="TopKRouter.Forward"/>. The selection itself is piecewise constant (no
/// gradient); the gradient reaches the router logits through the chosen weights, which are the softmax
/// probabilities of the chosen experts (plus a constant bias), and through any loss on p itself (the
/// load-balancing loss):
/// <code>
///   dp[t, e] = Σ_k dweight[t, k]·[sel[t, k] = e]  +  c[e]
///   dlogits  = p ⊙ (dp − Σ_e p·dp)                    (softmax backward, per row)
/// </code>
/// The expert bias is a buffer in LLaDA-MoE (updated outside the gradient, if at all) and gets none.
/// </summary>
public static class TopKRouterBackward
{
    /// <summary>
    /// probs: p [n × experts] from the forward; selected, dWeights: [n × k]; dProbsPerExpert: c [experts]
    /// added to dp of every row (empty = none); dLogits: [n × experts], overwritten.
    /// </summary>
    /// <exception cref="ArgumentException">A span too short.</exception>
    public static void Backward(ReadOnlySpan<float> probs, int n, int experts, ReadOnlySpan<int> selected, ReadOnlySpan<float> dWeights, int k,
        ReadOnlySpan<float> dProbsPerExpert, Span<float> dLogits)
    {
        if (probs.Length < (long)n * experts || dLogits.Length < (long)n * experts || selected.Length < (long)n * k || dWeights.Length < (long)n * k)
            throw new ArgumentException($"router backward spans are too short for {n} tokens × {experts} experts, top-{k}");
        if (!dProbsPerExpert.IsEmpty && dProbsPerExpert.Length != experts)
            throw new ArgumentException($"per-expert gradient has {dProbsPerExpert.Length} entries, expected {experts}");
        for (int t = 0; t < n; t++)
        {
            ReadOnlySpan<float> p = probs.Slice(t * experts, experts);
            Span<float> dl = dLogits.Slice(t * experts, experts);
            if (dProbsPerExpert.IsEmpty) dl.Clear(); else dProbsPerExpert.CopyTo(dl); // dl holds dp first
            for (int j = 0; j < k; j++) dl[selected[t * k + j]] += dWeights[t * k + j];
            double dot = 0;
            for (int e = 0; e < experts; e++) dot += (double)p[e] * dl[e];
            for (int e = 0; e < experts; e++) dl[e] = p[e] * (dl[e] - (float)dot);
        }
    }
}
