using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>
/// LLaDA-MoE's auxiliary load-balancing loss: <c>load_balancing_loss_func</c> of its
/// <c>modeling_lladamoe.py</c> (copied from Mixtral's; Switch Transformer, Fedus et al. 2021, Eqs. 4–6),
/// without an attention mask (every canvas position counts, as for a diffusion model), weighted by
/// <c>router_aux_loss_coef</c> as Mixtral's and OLMoE's forwards add it to the loss. Over the
/// T = (MoE layers)·N rows of every MoE layer's router probabilities p = softmax(logits) (concatenated,
/// so the means run over all layers at once; the expert bias plays no part):
/// <code>
///   count_e = #{(row, k) : expert e is among the top-k of p_row}     (K per row; not differentiable)
///   f_e     = count_e / T,   P_e = Σ_rows p_row,e / T
///   loss    = coef · E · Σ_e f_e · P_e                                (= coef·K when perfectly balanced)
///   ∂loss/∂p_row,e = coef · E · f_e / T                               (the same for every row and layer)
/// </code>
/// The published model's layers do not return their router logits, so its own <c>aux_loss</c> output
/// cannot be computed as shipped; this is the function it calls, applied as Mixtral/OLMoE apply it.
/// </summary>
public static class LoadBalancingLoss
{
    /// <summary>
    /// The loss over <paramref name="probs"/> (one [n × experts] array per MoE layer, each at least that
    /// long), and ∂loss/∂p per expert into <paramref name="dProbs"/> [experts]. 0 (and zero gradient) with
    /// no layers or a zero coefficient.
    /// </summary>
    /// <exception cref="ArgumentException">dProbs is not one entry per expert, topK is outside 1..experts, or a layer's array is too short.</exception>
    public static double Forward(IReadOnlyList<float[]> probs, int n, int experts, int topK, double coef, Span<float> dProbs)
    {
        if (dProbs.Length != experts) throw new ArgumentException($"dProbs has {dProbs.Length} entries, expected {experts}");
        if (topK < 1 || topK > experts) throw new ArgumentException($"top-k {topK} outside 1..{experts}");
        dProbs.Clear();
        if (probs.Count == 0 || n == 0 || coef == 0) return 0;
        var count = new double[experts];
        var mean = new double[experts];
        Span<int> sel = stackalloc int[topK];
        Span<float> val = stackalloc float[topK];
        foreach (float[] layer in probs)
        {
            if (layer.Length < (long)n * experts) throw new ArgumentException($"a layer's probabilities have {layer.Length} entries, need {n}x{experts}");
            for (int t = 0; t < n; t++)
            {
                ReadOnlySpan<float> p = layer.AsSpan(t * experts, experts);
                TopKRouter.TopK(p, default, sel, val);
                foreach (int e in sel) count[e]++;
                for (int e = 0; e < experts; e++) mean[e] += p[e];
            }
        }
        double rows = (double)probs.Count * n, loss = 0;
        for (int e = 0; e < experts; e++)
        {
            double f = count[e] / rows;
            loss += f * (mean[e] / rows);
            dProbs[e] = (float)(coef * experts * f / rows);
        }
        return coef * experts * loss;
    }
}
