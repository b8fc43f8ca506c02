#!/usr/bin/python3
"""Independent PyTorch reference of the LLaDA2.x mixture-of-experts block (one layer).

Written from the semantics of inclusionAI's LLaDA2.0-mini / LLaDA2.1-mini remote code,
modeling_llada2_moe.py (LLaDA2MoeGate, LLaDA2MoeSparseMoeBlock, LLaDA2MoeMLP; BailingMoeV2-style),
as mirrored in ZHZisZZ/dllm's dllm/pipelines/llada2/models/modeling_llada2_moe.py (read in the fork
cosmicallyrun/dllm) and in a vLLM FusedMoE-backed copy with an identical gate. No transformers needed. For rows h [N, d]:

    s       = sigmoid(h @ W_gate^T)                    float32
    b       = s + expert_bias                          used for the choice only
    groups  = b viewed [N, n_group, E / n_group]; score = sum of each group's 2 largest b
    keep    = the topk_group groups of largest score; the other groups' experts are masked to -inf
    sel     = topk(masked b, top_k)                    sorted by descending b
    w       = s[sel] / (sum s[sel] + 1e-20) if top_k > 1 else s[sel];  w *= routed_scaling_factor
    y       = sum_k w_k * expert_sel_k(h) + shared_experts(h)
    expert(h) = down(silu(gate(h)) * up(h)); the shared expert has width num_shared_experts * moe_intermediate_size

The published gate renormalises whenever top_k > 1 (it does not read norm_topk_prob).
"""
import torch
import torch.nn.functional as F


def route(h, router, expert_bias, n_group, topk_group, top_k, routed_scaling_factor):
    """-> (selected [N, K] int64, weights [N, K] float32, sigmoid scores [N, E])."""
    n, E = h.shape[0], router.shape[0]
    scores = torch.sigmoid(F.linear(h.float(), router.float()))
    biased = scores + expert_bias if expert_bias is not None else scores
    group_scores = biased.view(n, n_group, -1).topk(2, dim=-1)[0].sum(dim=-1)
    group_idx = torch.topk(group_scores, k=topk_group, dim=-1, sorted=False)[1]
    group_mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1)
    expert_mask = group_mask.unsqueeze(-1).expand(n, n_group, E // n_group).reshape(n, E)
    masked = biased.masked_fill(~expert_mask.bool(), float("-inf"))
    selected = torch.topk(masked, k=top_k, dim=-1)[1]
    w = torch.gather(scores, 1, selected)
    if top_k > 1:
        w = w / (w.sum(dim=-1, keepdim=True) + 1e-20)
    return selected, w * routed_scaling_factor, scores


def ffn(h, gate, up, down):
    return F.linear(F.silu(F.linear(h, gate)) * F.linear(h, up), down)


def moe_block(h, p, cfg):
    """h [N, d] float32; p: dict of router, expert_bias (or None), experts [(gate, up, down)], shared
    (gate, up, down) or None; cfg: n_group, topk_group, num_experts_per_tok, routed_scaling_factor.
    -> (y [N, d], selected [N, K], weights [N, K])."""
    selected, w, _ = route(h, p["router"], p["expert_bias"], cfg["n_group"], cfg["topk_group"],
                           cfg["num_experts_per_tok"], cfg["routed_scaling_factor"])
    y = torch.zeros_like(h)
    for e, (g, u, dn) in enumerate(p["experts"]):
        tok, slot = torch.where(selected == e)
        if tok.numel():
            y.index_add_(0, tok, ffn(h[tok], g, u, dn) * w[tok, slot].unsqueeze(-1))
    if p["shared"] is not None:
        y = y + ffn(h, *p["shared"])
    return y, selected, w
