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

    /// <summary>
    /// Backward of <see cref="TopKRouter.ForwardGroupedSigmoid"/> (the choice, groups included, gets no gradient; nor
    /// does the expert bias, which only steers it). With s = sigmoid(logits) from the forward (<paramref name="scores"/>
    /// [n × experts]), S = Σ_k s[sel_k] and c = <paramref name="scale"/>, the weights w_k = c·s[sel_k]/(S + 1e-20) give
    /// <code>
    ///   ds[sel_j] = c·(dw_j − Σ_k dw_k·w_k/c) / (S + 1e-20)      (k &gt; 1; k = 1: c·dw_1)
    ///   dlogits   = ds ⊙ s ⊙ (1 − s)                            zero for the experts not chosen
    /// </code>
    /// dLogits [n × experts] is overwritten.
    /// </summary>
    /// <exception cref="ArgumentException">A span too short.</exception>
    public static void BackwardGroupedSigmoid(ReadOnlySpan<float> scores, int n, int experts, ReadOnlySpan<int> selected,
        ReadOnlySpan<float> dWeights, int k, float scale, Span<float> dLogits)
    {
        if (scores.Length < (long)n * experts || dLogits.Length < (long)n * experts || selected.Length < (long)n * k || dWeights.Length < (long)n * k)
            throw new ArgumentException($"router backward spans are too short for {n} tokens × {experts} experts, top-{k}");
        for (int t = 0; t < n; t++)
        {
            ReadOnlySpan<float> s = scores.Slice(t * experts, experts);
            ReadOnlySpan<int> sel = selected.Slice(t * k, k);
            ReadOnlySpan<float> dw = dWeights.Slice(t * k, k);
            Span<float> dl = dLogits.Slice(t * experts, experts);
            dl.Clear();
            double sum = 0, dot = 0;
            for (int j = 0; j < k; j++) { sum += s[sel[j]]; dot += (double)dw[j] * s[sel[j]]; }
            double denom = sum + 1e-20;
            for (int j = 0; j < k; j++)
            {
                float sj = s[sel[j]];
                double ds = k > 1 ? scale * (dw[j] - dot / denom) / denom : scale * (double)dw[j];
                dl[sel[j]] = (float)(ds * sj * (1 - sj));
            }
        }
    }
}
