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
    /// The LLaDA2.x router (<c>LLaDA2MoeGate</c> of inclusionAI's <c>modeling_llada2_moe.py</c>, see
    /// <see cref="Dllm.Model.RouterScoring.Llada2Sigmoid"/>), per row of <paramref name="logits"/> [n × experts]:
    /// <code>
    ///   s      = sigmoid(logits)                       in place (so logits then holds s)
    ///   b      = s + bias                              the choice only (bias empty = none)
    ///   g_j    = sum of the 2 largest b in group j     experts split into `groups` equal consecutive groups
    ///   G      = the topkGroups groups of largest g    (ties → the lower group)
    ///   sel    = top-k of b over the experts of G      descending b (ties → the lower index)
    ///   weight = s[sel] / (Σ s[sel] + 1e-20) · scale   no renormalisation when k = 1 (then s[sel] · scale)
    /// </code>
    /// </summary>
    /// <exception cref="ArgumentException">k, groups or topkGroups out of range, or a span too short.</exception>
    public static void ForwardGroupedSigmoid(Span<float> logits, int n, int experts, ReadOnlySpan<float> bias, int k,
        int groups, int topkGroups, float scale, Span<int> selected, Span<float> weights)
    {
        if (k < 1 || k > experts) throw new ArgumentException($"top-k {k} outside 1..{experts}");
        if (groups < 1 || experts % groups != 0 || experts / groups < 2 || topkGroups < 1 || topkGroups > groups || k > topkGroups * (experts / groups))
            throw new ArgumentException($"{groups} groups, top-{topkGroups} groups, top-{k} do not fit {experts} experts");
        if (logits.Length < (long)n * experts || selected.Length < (long)n * k || weights.Length < (long)n * k)
            throw new ArgumentException($"router spans are too short for {n} tokens × {experts} experts, top-{k}");
        if (!bias.IsEmpty && bias.Length != experts) throw new ArgumentException($"expert bias has {bias.Length} entries, expected {experts}");
        int per = experts / groups;
        Span<float> biased = experts <= 1024 ? stackalloc float[experts] : new float[experts];
        Span<float> groupScore = groups <= 256 ? stackalloc float[groups] : new float[groups];
        Span<int> chosenGroups = groups <= 256 ? stackalloc int[topkGroups] : new int[topkGroups];
        Span<float> chosenScores = groups <= 256 ? stackalloc float[topkGroups] : new float[topkGroups];
        for (int t = 0; t < n; t++)
        {
            Span<float> s = logits.Slice(t * experts, experts);
            System.Numerics.Tensors.TensorPrimitives.Sigmoid(s, s);
            for (int e = 0; e < experts; e++) biased[e] = bias.IsEmpty ? s[e] : s[e] + bias[e];
            for (int g = 0; g < groups; g++)
            {
                float best = float.NegativeInfinity, second = float.NegativeInfinity;
                foreach (float v in biased.Slice(g * per, per))
                    if (v > best) { second = best; best = v; } else if (v > second) second = v;
                groupScore[g] = best + second;
            }
            TopK(groupScore, default, chosenGroups, chosenScores);
            for (int g = 0; g < groups; g++)
                if (!chosenGroups.Contains(g)) biased.Slice(g * per, per).Fill(float.NegativeInfinity);
            Span<int> sel = selected.Slice(t * k, k);
            Span<float> w = weights.Slice(t * k, k);
            TopK(biased, default, sel, w);
            float sum = 0;
            for (int j = 0; j < k; j++) { w[j] = s[sel[j]]; sum += w[j]; }
            for (int j = 0; j < k; j++) w[j] = (k > 1 ? w[j] / (sum + 1e-20f) : w[j]) * scale;
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
