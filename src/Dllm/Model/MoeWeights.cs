using Dllm.Tensors;

namespace Dllm.Model;

/// <summary>One SwiGLU feed-forward network of a mixture of experts (an expert or the shared expert): (out × in) views.</summary>
public sealed class ExpertWeights
{
    public required MatrixView Gate { get; init; } // gate_proj, [hidden × d]
    public required MatrixView Up { get; init; }   // up_proj,   [hidden × d]
    public required MatrixView Down { get; init; } // down_proj, [d × hidden]
}

/// <summary>
/// The weights of one mixture-of-experts FFN (<see cref="MixtureOfExperts"/>), under LLaDA-MoE's tensor
/// names (<c>modeling_lladamoe.py</c>: <c>LLaDAMoEDecoderLayer.mlp</c> is a <c>LLaDAMoESparseMoeBlock</c>,
/// its shared expert hangs off the decoder layer):
/// <code>
///   model.layers.{i}.mlp.gate.weight                            router,  [E × d]
///   model.layers.{i}.mlp.expert_bias                            [E]      (moe_router_enable_expert_bias only; a buffer)
///   model.layers.{i}.mlp.experts.{j}.{gate,up,down}_proj.weight expert j
///   model.layers.{i}.shared_expert.{gate,up,down}_proj.weight   (shared_expert_intermediate_size only)
/// </code>
/// or LLaDA2's (<c>modeling_llada2_moe.py</c> <c>LLaDA2MoeSparseMoeBlock</c>: the bias is a buffer of the gate, the
/// shared experts a module of the block): <c>mlp.gate.expert_bias</c>, <c>mlp.shared_experts.{gate,up,down}_proj.weight</c>
/// (<see cref="WeightNames.ExpertBias"/>, <see cref="WeightNames.SharedExpert"/>).
/// </summary>
public sealed class MoeWeights
{
    public required MatrixView Router { get; init; }             // [E × d]
    /// <summary>Added to the softmax scores before the top-k; empty when the config has no expert bias.</summary>
    public ReadOnlyMemory<float> ExpertBias { get; init; }        // [E]
    public required ExpertWeights[] Experts { get; init; }
    /// <summary>The shared expert every token runs through; null when the config has none.</summary>
    public ExpertWeights? Shared { get; init; }

    /// <summary>
    /// Binds layer <paramref name="layerPrefix"/>'s MoE tensors, named as <paramref name="names"/> says, in checkpoint order (router, expert bias,
    /// experts 0..E−1, shared expert) through <paramref name="matrix"/> (name, rows, cols) and
    /// <paramref name="bias"/> (name, length), as <see cref="TransformerWeights.Bind(ModelConfig, Func{string, int, int, MatrixView}, Func{string, int, ReadOnlyMemory{float}}, Func{string, int, ReadOnlyMemory{float}})"/> does for the block.
    /// </summary>
    internal static MoeWeights Bind(MoeConfig m, WeightNames names, string layerPrefix, int d,
        Func<string, int, int, MatrixView> matrix, Func<string, int, ReadOnlyMemory<float>> bias)
    {
        string mlp = layerPrefix + "mlp.";
        MatrixView router = matrix(mlp + "gate.weight", m.Experts, d);
        ReadOnlyMemory<float> expertBias = m.ExpertBias ? bias(layerPrefix + names.ExpertBias, m.Experts) : default;
        var experts = new ExpertWeights[m.Experts];
        for (int j = 0; j < m.Experts; j++) experts[j] = Ffn($"{mlp}experts.{j}.", m.ExpertHidden);
        return new MoeWeights
        {
            Router = router, ExpertBias = expertBias, Experts = experts,
            Shared = m.SharedExpertHidden > 0 ? Ffn(layerPrefix + names.SharedExpert, m.SharedExpertHidden) : null,
        };

        ExpertWeights Ffn(string p, int hidden) => new()
        {
            Gate = matrix(p + "gate_proj.weight", hidden, d),
            Up = matrix(p + "up_proj.weight", hidden, d),
            Down = matrix(p + "down_proj.weight", d, hidden),
        };
    }
}
