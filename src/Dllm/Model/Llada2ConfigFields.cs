using System.Text.Json.Nodes;

namespace Dllm.Model;

/// <summary>
/// The fields a LLaDA2 <c>config.json</c> (inclusionAI/LLaDA2.0-mini, LLaDA2.1-mini: <c>"architectures":
/// ["LLaDA2MoeModelLM"]</c>, <c>"model_type": "llada2_moe"</c>) adds to the Hugging Face dialect that
/// <see cref="HfConfigDialect"/> reads, with the keyword defaults of <c>LLaDA2MoeConfig</c>
/// (configuration_llada2_moe.py) and the meanings of modeling_llada2_moe.py:
/// <code>
///   use_qkv_bias (false)            bias on attention.query_key_value        → IncludeQkvBias
///   use_bias (true)                 bias on attention.dense (the o_proj)     → IncludeOutBias
///   use_qk_norm (true)              attention.query_layernorm / key_layernorm → QkNorm
///   partial_rotary_factor (0.5)     RoPE on int(head_dim · factor) dims      → PartialRotaryFactor
///   head_dim (None)                 `head_dim or hidden_size // num_attention_heads`: 0 and null derive it
///   num_experts (16)                null: every layer is dense (LLaDA2MoeDecoderLayer builds no MoE)
///   first_k_dense_replace (0)       layers before it are dense (intermediate_size), the rest MoE
///   moe_intermediate_size (None)    each routed expert's width
///   num_shared_experts (0)          the shared expert is num_shared_experts × moe_intermediate_size wide; 0 or null: none
///   num_experts_per_tok (2), n_group (8), topk_group (4), routed_scaling_factor (2.5)   the sigmoid router
/// </code>
/// The router always has its expert bias (<c>mlp.gate.expert_bias</c>, a buffer the gate registers whatever
/// <c>moe_router_enable_expert_bias</c> says) and always renormalises its top-k weights (<c>norm_topk_prob</c> is not
/// read), so both fields, like <c>moe_shared_expert_intermediate_size</c>, <c>router_dtype</c>, <c>norm_softmax</c>,
/// dropouts, <c>use_sliding_window</c> (the SDPA attention ignores it) and <c>rotary_dim</c>, are kept in
/// <see cref="ModelConfig.Extra"/> and written back unchanged.
/// </summary>
/// <remarks>Refused with the field and file named: <c>norm_head</c> true (a normalised LM head), a
/// <c>score_function</c> other than "sigmoid", <c>use_rmsnorm</c> false, a negative <c>num_shared_experts</c> —
/// what BailingMoeV2-style configs can say and the published LLaDA2 forward (and so Dllm) does not do — besides what
/// <see cref="HfConfigDialect"/> refuses for every family (hidden_act, rope_scaling types, wrongly typed fields).
/// An absent <c>num_key_value_heads</c> takes the class default 0 and is refused by validation (the published
/// attention divides by it); the block size and mask id, not in the published config, are the family's defaults
/// (<see cref="ModelFamilies.Llada2"/>) unless Dllm's <c>block_size</c> / <c>mask_token_id</c> give them.</remarks>
public static class Llada2ConfigFields
{
    /// <summary><paramref name="c"/> (read by <see cref="HfConfigDialect.Read"/>) with the LLaDA2 fields of <paramref name="f"/>.</summary>
    /// <exception cref="InvalidDataException">See the remarks; the message names the field and <paramref name="path"/>.</exception>
    internal static ModelConfig Read(HfConfigDialect.Fields f, ModelConfig c, string path)
    {
        InvalidDataException Bad(string msg) => new($"{msg} in {path}");
        if (f.Bool("norm_head", keep: true) == true) throw Bad("norm_head true is unsupported (Dllm's LM head is not normalised)");
        if (f.String("score_function", keep: true) is string score && score != "sigmoid")
            throw Bad($"score_function '{score}' is unsupported (LLaDA2's router is sigmoid)");
        if (f.Bool("use_rmsnorm", keep: true) == false) throw Bad("use_rmsnorm false is unsupported (Dllm's norms are RMSNorm)");

        MoeConfig? moe = null;
        if ((f.Has("num_experts") ? f.Int("num_experts") : 16) is int experts)
        {
            int firstDense = f.Int("first_k_dense_replace") ?? 0, hidden = f.Int("moe_intermediate_size") ?? 0;
            int sharedCount = (f.Has("num_shared_experts") ? f.Int("num_shared_experts") : 0) ?? 0;
            if (sharedCount < 0) throw Bad($"num_shared_experts must be ≥ 0 or null, found {sharedCount}");
            long shared = (long)hidden * sharedCount;
            if (shared > int.MaxValue) throw Bad($"num_shared_experts {sharedCount} × moe_intermediate_size {hidden} is too wide");
            moe = new MoeConfig
            {
                Experts = experts, TopK = f.Int("num_experts_per_tok") ?? 2, ExpertHidden = hidden, SharedExpertHidden = (int)shared,
                LayerFreq = Enumerable.Range(0, Math.Max(c.NLayers, 0)).Select(i => i < firstDense ? 0 : 1).ToArray(),
                ExpertBias = true, Router = RouterScoring.Llada2Sigmoid, Groups = f.Int("n_group") ?? 8, TopKGroups = f.Int("topk_group") ?? 4,
                RoutedScalingFactor = f.Number("routed_scaling_factor") ?? 2.5, AuxLossCoef = 0,
            };
        }
        return c with
        {
            ExplicitHeadDim = c.ExplicitHeadDim == 0 ? null : c.ExplicitHeadDim,
            IncludeQkvBias = f.Bool("use_qkv_bias") ?? false, IncludeOutBias = f.Bool("use_bias") ?? true, QkNorm = f.Bool("use_qk_norm") ?? true,
            PartialRotaryFactor = f.Number("partial_rotary_factor") ?? 0.5, Moe = moe,
        };
    }

    /// <summary>Adds the LLaDA2 fields of <paramref name="c"/> to the config.json being written (<paramref name="o"/>).</summary>
    /// <exception cref="ArgumentException">Experts LLaDA2's fields cannot express: MoE layers that are not all the layers from
    /// some index on, or a shared expert whose width is not a multiple of the experts' width.</exception>
    internal static void Write(ModelConfig c, IDictionary<string, JsonNode?> o)
    {
        o["use_qkv_bias"] = c.IncludeQkvBias;
        o["use_bias"] = c.IncludeOutBias;
        o["use_qk_norm"] = c.QkNorm;
        o["partial_rotary_factor"] = c.PartialRotaryFactor;
        if (c.Moe is not MoeConfig m)
        {
            o["num_experts"] = null;
            return;
        }
        int firstDense = Array.FindIndex(m.LayerFreq, x => x != 0) is int i and >= 0 ? i : m.LayerFreq.Length;
        if (m.LayerFreq.Skip(firstDense).Any(x => x == 0))
            throw new ArgumentException($"LLaDA2's config has dense layers only before first_k_dense_replace; moe_layer_freq [{string.Join(", ", m.LayerFreq)}] is not of that form");
        if (m.ExpertHidden <= 0 || m.SharedExpertHidden % m.ExpertHidden != 0)
            throw new ArgumentException($"LLaDA2's shared expert is num_shared_experts × moe_intermediate_size wide; {m.SharedExpertHidden} is not a multiple of {m.ExpertHidden}");
        o["num_experts"] = m.Experts;
        o["num_experts_per_tok"] = m.TopK;
        o["moe_intermediate_size"] = m.ExpertHidden;
        o["num_shared_experts"] = m.SharedExpertHidden / m.ExpertHidden;
        o["first_k_dense_replace"] = firstDense;
        o["n_group"] = m.Groups;
        o["topk_group"] = m.TopKGroups;
        o["routed_scaling_factor"] = m.RoutedScalingFactor;
    }
}
