namespace Dllm.Model;

/// <summary>How a <see cref="MixtureOfExperts"/> router turns its logits into a choice and weights.</summary>
public enum RouterScoring
{
    /// <summary>LLaDA-MoE (<c>modeling_lladamoe.py</c>): softmax over all experts, the optional expert bias added to
    /// the scores, top-k of the biased scores, the biased scores are the weights (no renormalisation).</summary>
    LladaMoeSoftmax,
    /// <summary>LLaDA2.0 / LLaDA2.1 (<c>modeling_llada2_moe.py</c>, BailingMoeV2-style <c>LLaDA2MoeGate</c>): sigmoid
    /// scores; the expert bias only for the choice; group-limited top-k (<see cref="MoeConfig.Groups"/>,
    /// <see cref="MoeConfig.TopKGroups"/>); the weights are the unbiased sigmoid scores of the chosen experts,
    /// renormalised to sum 1 when top-k &gt; 1, times <see cref="MoeConfig.RoutedScalingFactor"/>.</summary>
    Llada2Sigmoid,
}

/// <summary>
/// The mixture-of-experts part of a <see cref="ModelConfig"/> (the LLaDA-MoE family, read from and
/// written to <c>config.json</c> by <see cref="LladaMoeConfig"/>; LLaDA2, by <see cref="Llada2ConfigFields"/>): which layers route their tokens to
/// experts, how many experts there are, how many each token uses, their widths, and the router's
/// extras. See <see cref="MixtureOfExperts"/> for the semantics.
/// </summary>
/// <remarks>Record equality compares <see cref="LayerFreq"/> by reference.</remarks>
public sealed record MoeConfig
{
    /// <summary>Routed experts per MoE layer (<c>num_experts</c>).</summary>
    public required int Experts { get; init; }
    /// <summary>Experts each token is sent to (<c>num_experts_per_tok</c>), 1..<see cref="Experts"/>.</summary>
    public required int TopK { get; init; }
    /// <summary>Width of each routed expert's gate/up projections (<c>expert_intermediate_size</c>).</summary>
    public required int ExpertHidden { get; init; }
    /// <summary>Width of the always-on shared expert (<c>shared_expert_intermediate_size</c>); 0 = none (null in config.json).</summary>
    public int SharedExpertHidden { get; init; }
    /// <summary><c>moe_layer_freq</c>: one entry per layer, 0 = a dense FFN of mlp width, anything else = a MoE layer.</summary>
    public required int[] LayerFreq { get; init; }
    /// <summary><c>moe_router_enable_expert_bias</c>: a per-expert bias (<c>mlp.expert_bias</c>, a buffer: loaded, never trained)
    /// added to the softmax scores before the top-k; the chosen scores, bias included, are the weights.</summary>
    public bool ExpertBias { get; init; }
    /// <summary>The router's scoring rule; <see cref="RouterScoring.LladaMoeSoftmax"/> unless set.</summary>
    public RouterScoring Router { get; init; } = RouterScoring.LladaMoeSoftmax;
    /// <summary><c>n_group</c> (<see cref="RouterScoring.Llada2Sigmoid"/> only): the experts split into this many equal
    /// consecutive groups; 1 = no group limit.</summary>
    public int Groups { get; init; } = 1;
    /// <summary><c>topk_group</c> (<see cref="RouterScoring.Llada2Sigmoid"/> only): groups a token may choose experts
    /// from, those with the largest sum of their two best biased scores.</summary>
    public int TopKGroups { get; init; } = 1;
    /// <summary><c>routed_scaling_factor</c> (<see cref="RouterScoring.Llada2Sigmoid"/> only): multiplies the routed weights.</summary>
    public double RoutedScalingFactor { get; init; } = 1.0;
    /// <summary><c>router_aux_loss_coef</c>: weight of the load-balancing loss in training (0.01 in LLaDA-MoE).</summary>
    public double AuxLossCoef { get; init; } = 0.01;

    /// <summary>True when layer <paramref name="layer"/> routes to experts (moe_layer_freq ≠ 0).</summary>
    public bool IsMoeLayer(int layer) => LayerFreq[layer] != 0;

    /// <summary>Number of MoE layers.</summary>
    public int MoeLayerCount => LayerFreq.Count(f => f != 0);

    /// <summary>True when some layer is a dense FFN (so mlp width matters).</summary>
    public bool HasDenseLayer => LayerFreq.Any(f => f == 0);

    /// <summary>Parameters of the routed experts a token does not use: (experts − top-k) · 3·d·expert width per MoE layer.
    /// Total parameters minus this is the count active per token.</summary>
    public long InactiveParametersPerToken(int dModel) => (long)MoeLayerCount * (Experts - TopK) * 3L * dModel * ExpertHidden;

    /// <summary>A MoE config with every one of <paramref name="layers"/> layers routed except the first <paramref name="denseLayers"/>
    /// (LLaDA-MoE-7B routes all 16).</summary>
    public static MoeConfig Create(int layers, int experts, int topK, int expertHidden, int sharedExpertHidden = 0,
        int denseLayers = 0, double auxLossCoef = 0.01) => new()
    {
        Experts = experts, TopK = topK, ExpertHidden = expertHidden, SharedExpertHidden = sharedExpertHidden,
        LayerFreq = Enumerable.Range(0, Math.Max(layers, 0)).Select(i => i < denseLayers ? 0 : 1).ToArray(), AuxLossCoef = auxLossCoef,
    };

    /// <summary>Checks the MoE fields against a model of <paramref name="layers"/> layers.</summary>
    /// <exception cref="InvalidDataException">Names the config.json field (LLaDA-MoE's, or LLaDA2's for its router) and
    /// <paramref name="where"/>: non-positive num_experts or expert_intermediate_size (LLaDA2: moe_intermediate_size), num_experts_per_tok outside 1..num_experts, a negative
    /// shared_expert_intermediate_size, moe_layer_freq not one entry per layer, or router_aux_loss_coef
    /// negative or not finite.</exception>
    public void Validate(int layers, string where)
    {
        InvalidDataException Bad(string msg) => new($"{msg} in {where}");
        if (Experts <= 0) throw Bad($"num_experts must be positive, found {Experts}");
        if (TopK <= 0 || TopK > Experts) throw Bad($"num_experts_per_tok must lie in 1..num_experts ({Experts}), found {TopK}");
        bool llada2 = Router == RouterScoring.Llada2Sigmoid; // LLaDA2's config names the widths differently
        if (ExpertHidden <= 0) throw Bad($"{(llada2 ? "moe_intermediate_size" : "expert_intermediate_size")} must be positive, found {ExpertHidden}");
        if (SharedExpertHidden < 0) throw Bad($"shared_expert_intermediate_size must be positive or null, found {SharedExpertHidden}");
        if (LayerFreq is null || LayerFreq.Length != layers)
            throw Bad($"moe_layer_freq has {LayerFreq?.Length ?? 0} entries, expected one per layer ({layers})");
        if (Router == RouterScoring.Llada2Sigmoid)
        {
            if (Groups <= 0 || Experts % Groups != 0) throw Bad($"n_group must divide num_experts ({Experts}), found {Groups}");
            if (Experts / Groups < 2) throw Bad($"n_group {Groups} leaves fewer than 2 experts per group (groups are scored by their top 2)");
            if (TopKGroups <= 0 || TopKGroups > Groups) throw Bad($"topk_group must lie in 1..n_group ({Groups}), found {TopKGroups}");
            if (TopK > TopKGroups * (Experts / Groups))
                throw Bad($"num_experts_per_tok {TopK} exceeds the experts of topk_group {TopKGroups} groups ({TopKGroups * (Experts / Groups)})");
            if (!(RoutedScalingFactor > 0) || double.IsInfinity(RoutedScalingFactor))
                throw Bad($"routed_scaling_factor must be finite and > 0, found {RoutedScalingFactor}");
        }
        if (!(AuxLossCoef >= 0) || double.IsInfinity(AuxLossCoef)) throw Bad($"router_aux_loss_coef must be finite and ≥ 0, found {AuxLossCoef}");
    }
}
