namespace Dllm.Tensors;

/// <summary>
/// The router of a softmax top-k mixture of experts (Shazeer et al. 2017; Switch Transformer, Fedus
/// et al. 2021; as LLaDA-MoE's <c>LLaDAMoESparseMoeBlock.forward</c> runs it, see
/// <see cref="Dllm.Model.MixtureOfExperts"/>), for N tokens and E experts:
/// <code>
///   p      = softmax(logits)                 [N × E]   (in place over the logits)
///   s      = p + bias                        [N × E]   (bias optional: the expert bias)
///   sel    = top-k indices of s per row      [N × K]   (descending score; ties → the lower index)
///   weight = s[sel]                          [N × K]   (no renormalisation)
/// </code>
/// and the grouping of the N·K (token, slot) assignments by expert that lets each expert run one GEMM
/// over its own tokens. <see cref="TopKRouterBackward"/> is the backward.
/// </summary>
public static class TopKRouter
{
    /// <summary>
    /// Softmax of each row of <paramref name="logits"/> [n × experts] in place (so it then holds p),
    /// then the top-<paramref name="k"/> experts of p + <paramref name="bias"/> (empty = no bias) per row into
    /// <paramref name="selected"/> [n × k] and their scores into <paramref name="weights"/> [n × k].
    /// </summary>
    /// <exception cref="ArgumentException">k outside 1..experts, or a span too short.</exception>
    public static void Forward(Span<float> logits, int n, int experts, ReadOnlySpan<float> bias, int k,
        Span<int> selected, Span<float> weights)
    {
        if (k < 1 || k > experts) throw new ArgumentException($"top-k {k} outside 1..{experts}");
        if (logits.Length < (long)n * experts || selected.Length < (long)n * k || weights.Length < (long)n * k)
            throw new ArgumentException($"router spans are too short for {n} tokens × {experts} experts, top-{k}");
        if (!bias.IsEmpty && bias.Length != experts) throw new ArgumentException($"expert bias has {bias.Length} entries, expected {experts}");
        for (int t = 0; t < n; t++)
        {
            Span<float> p = logits.Slice(t * experts, experts);
            Softmax.InPlace(p);
            TopK(p, bias, selected.Slice(t * k, k), weights.Slice(t * k, k));
        }
    }

    /// <summary>
    /// The <paramref name="selected"/>.Length largest entries of <paramref name="scores"/> + <paramref name="bias"/>
    /// (empty = none), by descending value (ties: the lower index first, as a stable sort would order them),
    /// with their values in <paramref name="values"/>. Selection by insertion: O(E·k), k is small.
    /// </summary>
    public static void TopK(ReadOnlySpan<float> scores, ReadOnlySpan<float> bias, Span<int> selected, Span<float> values)
    {
        int k = selected.Length, filled = 0;
        for (int e = 0; e < scores.Length; e++)
        {
            float s = bias.IsEmpty ? scores[e] : scores[e] + bias[e];
            if (filled == k && !(s > values[k - 1])) continue; // not better than the k-th (ties keep the lower index)
            int j = filled < k ? filled++ : k - 1;
            while (j > 0 && s > values[j - 1]) { values[j] = values[j - 1]; selected[j] = selected[j - 1]; j--; }
            values[j] = s; selected[j] = e;
        }
    }

    /// <summary>
    /// Groups the n·k assignments of <paramref name="selected"/> [n × k] by expert: expert e owns
    /// assignment rows [offsets[e], offsets[e+1]) (<paramref name="offsets"/> has experts + 1 entries),
    /// row r being token <paramref name="tokens"/>[r] through its slot <paramref name="slots"/>[r]
    /// (selected[tokens[r]·k + slots[r]] = e). Within an expert, tokens ascend. An expert no token chose
    /// has an empty range.
    /// </summary>
    /// <exception cref="ArgumentException">A span too short, or an expert id outside 0..experts−1.</exception>
    public static void Group(ReadOnlySpan<int> selected, int n, int k, int experts, Span<int> offsets, Span<int> tokens, Span<int> slots)
    {
        int total = n * k;
        if (selected.Length < total || offsets.Length < experts + 1 || tokens.Length < total || slots.Length < total)
            throw new ArgumentException($"grouping spans are too short for {n} tokens × top-{k} over {experts} experts");
        offsets[..(experts + 1)].Clear();
        for (int i = 0; i < total; i++)
        {
            int e = selected[i];
            if ((uint)e >= (uint)experts) throw new ArgumentException($"expert id {e} outside 0..{experts - 1}");
            offsets[e + 1]++;
        }
        for (int e = 0; e < experts; e++) offsets[e + 1] += offsets[e];
        Span<int> next = experts <= 1024 ? stackalloc int[experts] : new int[experts];
        offsets[..experts].CopyTo(next);
        for (int i = 0; i < total; i++)
        {
            int r = next[selected[i]]++;
            tokens[r] = i / k;
            slots[r] = i % k;
        }
    }
}
