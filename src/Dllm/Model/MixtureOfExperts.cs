using System.Numerics.Tensors;
using Dllm.Tensors;

namespace Dllm.Model;

/// <summary>
/// The mixture-of-experts FFN of LLaDA-MoE (inclusionAI/LLaDA-MoE-7B-A1B-Base and -Instruct,
/// arXiv 2509.24389): what <see cref="Transformer"/> runs in place of the dense SwiGLU FFN on the layers
/// whose <c>moe_layer_freq</c> entry is not 0. Semantics are those of the modeling code published with
/// the checkpoints, <c>modeling_lladamoe.py</c> (<c>LLaDAMoESparseMoeBlock</c>, <c>LLaDAMoEDecoderLayer</c>;
/// the same file is mirrored in ZHZisZZ/dllm <c>dllm/pipelines/llada/models/modeling_lladamoe.py</c> and
/// inclusionAI/dInfer <c>tools/modeling_fused_lladamoe.py</c>), which llama.cpp's <c>llada-moe</c>
/// architecture (<c>src/models/llada-moe.cpp</c>: softmax gating, no weight normalisation) agrees with.
/// For the N rows h = RMSNorm(x)·post_attention_layernorm [N × d]:
/// <code>
///   p        = softmax(h·W_gateᵀ)                 [N × E]  float32, over all E experts
///   s        = p (+ expert_bias)                  [N × E]  only with moe_router_enable_expert_bias
///   sel, w   = top-k of s, and s at sel           [N × K]  K = num_experts_per_tok; no renormalisation
///   y_t      = Σ_k w_tk · E_sel_tk(h_t)           [N × d]  E_j(h) = down_j(SiLU(gate_j(h)) ⊙ up_j(h))
///   y       += shared_expert(h)                            only with shared_expert_intermediate_size
///   x       += y
/// </code>
/// Each expert runs one gate/up/down GEMM trio over only the tokens that chose it (the assignments are
/// grouped by expert, <see cref="TopKRouter.Group"/>), never every expert densely, and its output is
/// scattered back weighted, as the published per-expert loop with <c>index_add_</c> does.
/// Published details kept as published: the block hard-codes <c>norm_topk_prob = False</c> whatever
/// config.json says; the expert bias, when enabled, is a buffer that shifts both the choice and the
/// weights; <c>moe_router_score_function</c>, <c>routed_scaling_factor</c>, <c>router_num_group</c> and
/// <c>router_topk_group</c> are read into the config but unused by the forward, so they are ignored here
/// too (and written back unchanged). Dense layers (moe_layer_freq 0) are the plain SwiGLU FFN of
/// <c>dense_intermediate_size</c>. Training adds the load-balancing loss (<c>Dllm.Training.LoadBalancingLoss</c>).
/// <para>
/// With <see cref="MoeConfig.Router"/> = <see cref="RouterScoring.Llada2Sigmoid"/> the router is instead that
/// of LLaDA2.0-mini / LLaDA2.1-mini (BailingMoeV2-style, <see cref="TopKRouter.ForwardGroupedSigmoid"/>):
/// <code>
///   s        = sigmoid(h·W_gateᵀ)                 [N × E]  float32
///   sel      = group-limited top-k of s + expert_bias      (bias for the choice only; n_group groups scored
///                                                          by the sum of their top-2 biased scores, topk_group kept)
///   w        = s[sel] / (Σ s[sel] + 1e-20) · routed_scaling_factor   (unbiased; renormalised when K &gt; 1)
///   y_t      = Σ_k w_tk · E_sel_tk(h_t) + shared_experts(h_t)        shared width num_shared_experts·moe_intermediate_size
/// </code>
/// as read in <c>LLaDA2MoeGate</c> / <c>LLaDA2MoeSparseMoeBlock</c> of <c>modeling_llada2_moe.py</c> (inclusionAI's
/// LLaDA2.0-mini remote code, as mirrored in ZHZisZZ/dllm's <c>dllm/pipelines/llada2/models/modeling_llada2_moe.py</c>
/// (read in the fork cosmicallyrun/dllm) and in a vLLM FusedMoE-backed copy of the same file with an identical
/// gate); the gate renormalises whenever top-k &gt; 1, reading neither
/// <c>norm_topk_prob</c> nor the config beyond n_group, topk_group and routed_scaling_factor. Dense layers
/// there are the first <c>first_k_dense_replace</c> ones (a <see cref="MoeConfig.LayerFreq"/> of 0s then 1s).
/// LLaDA2 checkpoints load it from their config.json (<see cref="Llada2ConfigFields"/>); there is no GGUF export.
/// Training backpropagates through the chosen weights (<c>TopKRouterBackward.BackwardGroupedSigmoid</c>;
/// the choice and the expert bias get no gradient) and refuses a non-zero <see cref="MoeConfig.AuxLossCoef"/>: the
/// load-balancing loss here is the softmax router's, and LLaDA2 balances with the expert bias instead.
/// </para>
/// </summary>
public static class MixtureOfExperts
{
    /// <summary>
    /// x[n × d] += MoE(h[n × d]). The routing and every activation the backward needs are left in
    /// <paramref name="a"/> (grown here); with <paramref name="save"/> false the per-expert buffers are
    /// reused expert after expert and the activation overwrites the gate.
    /// </summary>
    internal static void Forward(MoeWeights w, MoeConfig m, ReadOnlySpan<float> h, int n, int d, Span<float> x, MoeActivations a, bool save)
    {
        a.Ensure(n, d, m, save);
        int experts = m.Experts, k = m.TopK, f = m.ExpertHidden;
        Span<float> probs = a.Probs.AsSpan(0, n * experts);
        Gemm.LinearForward(h, n, w.Router, probs);
        if (m.Router == RouterScoring.Llada2Sigmoid)
            TopKRouter.ForwardGroupedSigmoid(probs, n, experts, w.ExpertBias.Span, k, m.Groups, m.TopKGroups,
                (float)m.RoutedScalingFactor, a.Selected, a.Weights);
        else
            TopKRouter.Forward(probs, n, experts, w.ExpertBias.Span, k, a.Selected, a.Weights);
        TopKRouter.Group(a.Selected, n, k, experts, a.Offsets, a.Tokens, a.Slots);

        for (int e = 0; e < experts; e++)
        {
            int r0 = a.Offsets[e], rows = a.Offsets[e + 1] - r0;
            if (rows == 0) continue;
            int b = save ? r0 : 0; // where this expert's rows live in the buffers
            Span<float> input = a.Input.AsSpan(b * d, rows * d), output = a.Out.AsSpan(b * d, rows * d);
            Span<float> gate = a.Gate.AsSpan(b * f, rows * f), up = a.Up.AsSpan(b * f, rows * f);
            Span<float> act = save ? a.Act.AsSpan(b * f, rows * f) : gate;
            for (int i = 0; i < rows; i++) h.Slice(a.Tokens[r0 + i] * d, d).CopyTo(input.Slice(i * d, d));
            ExpertWeights ex = w.Experts[e];
            Gemm.LinearForward(input, rows, ex.Gate, gate);
            Gemm.LinearForward(input, rows, ex.Up, up);
            SwiGlu.Forward(gate, up, act);
            Gemm.LinearForward(act, rows, ex.Down, output);
            for (int i = 0; i < rows; i++)
            {
                int t = a.Tokens[r0 + i];
                Span<float> xt = x.Slice(t * d, d);
                TensorPrimitives.MultiplyAdd(output.Slice(i * d, d), a.Weights[t * k + a.Slots[r0 + i]], xt, xt);
            }
        }

        if (w.Shared is ExpertWeights sh)
        {
            int fs = m.SharedExpertHidden;
            Span<float> gate = a.SharedGate.AsSpan(0, n * fs), up = a.SharedUp.AsSpan(0, n * fs);
            Span<float> act = save ? a.SharedAct.AsSpan(0, n * fs) : gate;
            Gemm.LinearForward(h, n, sh.Gate, gate);
            Gemm.LinearForward(h, n, sh.Up, up);
            SwiGlu.Forward(gate, up, act);
            Gemm.LinearForward(act, n, sh.Down, x, accumulate: true);
        }
    }
}
