#!/usr/bin/python3
"""Independent PyTorch reference for LLaDA-MoE (inclusionAI/LLaDA-MoE-7B-A1B-Base / -Instruct).

Written from the modeling code published with those checkpoints, `modeling_lladamoe.py`
(LLaDAMoERMSNorm, LLaDAMoERotaryEmbedding, LLaDAMoEAttention, LLaDAMoEMLP,
LLaDAMoESparseMoeBlock, LLaDAMoEDecoderLayer, LLaDAMoEModel, LLaDAMoEModelLM,
load_balancing_loss_func), as mirrored in ZHZisZZ/dllm
(dllm/pipelines/llada/models/modeling_lladamoe.py) and inclusionAI/dInfer
(tools/modeling_fused_lladamoe.py), and its config class `configuration_lladamoe.py`.
transformers is not needed: the forward is plain torch in float32, the router loops over
experts with index_add_ exactly as the published block does. Semantics kept as published:

  * router: softmax over all experts in float32, + expert_bias (a buffer) when
    moe_router_enable_expert_bias, top-k (num_experts_per_tok), weights = the chosen
    scores, NO renormalisation (the block hard-codes norm_topk_prob = False whatever
    config.json says); moe_router_score_function / routed_scaling_factor /
    router_num_group / router_topk_group are unused by the forward;
  * a layer with moe_layer_freq[i] == 0 is a dense LLaDAMoEMLP of dense_intermediate_size;
  * a MoE layer adds `shared_expert` (decoder-layer attribute) when
    shared_expert_intermediate_size is not None;
  * attention is bidirectional; an attention_mask masks keys only; qk_layernorm applies an
    RMSNorm of width head_dim to q and k before RoPE;
  * load_balancing_loss_func (Mixtral's, Switch Transformer Eqs. 4-6) over the concatenated
    router logits of the MoE layers, times router_aux_loss_coef.

Run with /usr/bin/python3 (torch 1.13 CPU).
"""
import math

import torch
import torch.nn.functional as F

from llada_reference import rms_norm, rope_tables, rotate_half  # noqa: F401  (same float32 ops)


def layer_prefix(i):
    return "model.layers.%d." % i


def tensor_names(cfg):
    """Every tensor of a LLaDA-MoE checkpoint of this config (the module tree's state_dict)."""
    names = ["model.embed_tokens.weight", "model.norm.weight"]
    if not cfg.get("tie_word_embeddings", False):
        names.append("lm_head.weight")
    for i in range(cfg["num_hidden_layers"]):
        p = layer_prefix(i)
        names += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]
        names += [p + "self_attn.%s_proj.weight" % x for x in "qkvo"]
        if cfg.get("qk_layernorm"):
            names += [p + "self_attn.q_norm.weight", p + "self_attn.k_norm.weight"]
        if cfg["moe_layer_freq"][i] == 0:
            names += [p + "mlp.%s_proj.weight" % x for x in ("gate", "up", "down")]
            continue
        names.append(p + "mlp.gate.weight")
        if cfg.get("moe_router_enable_expert_bias"):
            names.append(p + "mlp.expert_bias")
        for j in range(cfg["num_experts"]):
            names += [p + "mlp.experts.%d.%s_proj.weight" % (j, x) for x in ("gate", "up", "down")]
        if cfg.get("shared_expert_intermediate_size") is not None:
            names += [p + "shared_expert.%s_proj.weight" % x for x in ("gate", "up", "down")]
    return names


def mlp(x, w, p):
    """LLaDAMoEMLP: down(silu(gate(x)) * up(x))."""
    return (F.silu(x @ w[p + "gate_proj.weight"].T) * (x @ w[p + "up_proj.weight"].T)) @ w[p + "down_proj.weight"].T


class LladaMoeRef:
    """float32 LLaDAMoEModelLM forward. weights: name -> tensor (widened to float32)."""

    def __init__(self, cfg, weights):
        self.cfg = cfg
        self.w = {k: v.to(torch.float32).contiguous() for k, v in weights.items()}
        self.d = cfg["hidden_size"]
        self.nh = cfg["num_attention_heads"]
        self.nkv = cfg.get("num_key_value_heads") or self.nh
        self.hd = self.d // self.nh
        self.eps = cfg["rms_norm_eps"]
        assert cfg.get("hidden_act", "silu") == "silu"
        assert not cfg.get("attention_bias", False) and cfg.get("clip_qkv") is None
        assert cfg.get("rope_scaling") is None and cfg.get("partial_rotary_factor", 1.0) == 1.0
        self.head = self.w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else self.w["lm_head.weight"]
        self.mask_id = cfg.get("mask_token_id")

    def moe(self, h, p):
        """LLaDAMoESparseMoeBlock.forward on h (N, d). Returns (y, router_logits, selected, weights)."""
        cfg, w = self.cfg, self.w
        E, K = cfg["num_experts"], cfg["num_experts_per_tok"]
        logits = h @ w[p + "mlp.gate.weight"].T                      # (N, E)
        scores = F.softmax(logits, dim=1, dtype=torch.float)
        if cfg.get("moe_router_enable_expert_bias"):
            scores = scores + w[p + "mlp.expert_bias"]
        weights, selected = torch.topk(scores, K, dim=-1)             # sorted, descending
        # norm_topk_prob: hard-coded False in the published block -> no renormalisation
        y = torch.zeros_like(h)
        expert_mask = F.one_hot(selected, num_classes=E).permute(2, 1, 0)   # (E, K, N)
        for e in range(E):
            idx, top_x = torch.where(expert_mask[e])
            out = mlp(h[top_x], w, p + "mlp.experts.%d." % e) * weights[top_x, idx, None]
            y.index_add_(0, top_x, out)
        return y, logits, selected, weights

    def forward(self, ids, attention_mask=None, trace=None):
        """ids (B, L) int64; attention_mask optional (B, L), 0 = padding key. Returns float32
        logits (B, L, V). trace: optional dict, filled with per-MoE-layer router logits
        (N, E), selected experts (B, L, K) and weights (B, L, K)."""
        cfg, w = self.cfg, self.w
        ids = torch.as_tensor(ids, dtype=torch.int64)
        B, L = ids.shape
        nh, nkv, hd = self.nh, self.nkv, self.hd
        x = w["model.embed_tokens.weight"][ids]
        cos, sin = rope_tables(L, hd, cfg["rope_theta"])
        key_ok = None
        if attention_mask is not None:
            key_ok = torch.as_tensor(attention_mask).to(torch.bool)[:, None, None, :]
        if trace is not None:
            trace.update(router_logits=[], selected=[], weights=[], layers=[])
        for i in range(cfg["num_hidden_layers"]):
            p = layer_prefix(i)
            h = rms_norm(x, w[p + "input_layernorm.weight"], self.eps)
            q = h @ w[p + "self_attn.q_proj.weight"].T
            k = h @ w[p + "self_attn.k_proj.weight"].T
            if cfg.get("qk_layernorm"):
                q = rms_norm(q.reshape(-1, hd), w[p + "self_attn.q_norm.weight"], self.eps).reshape(B, L, -1)
                k = rms_norm(k.reshape(-1, hd), w[p + "self_attn.k_norm.weight"], self.eps).reshape(B, L, -1)
            v = h @ w[p + "self_attn.v_proj.weight"].T
            q = q.view(B, L, nh, hd).transpose(1, 2)
            k = k.view(B, L, nkv, hd).transpose(1, 2)
            v = v.view(B, L, nkv, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(nh // nkv, dim=1)   # repeat_kv: query head j uses kv head j // (nh / nkv)
            v = v.repeat_interleave(nh // nkv, dim=1)
            s = (q @ k.transpose(2, 3)) / math.sqrt(hd)  # bidirectional
            if key_ok is not None:
                s = s.masked_fill(~key_ok, torch.finfo(torch.float32).min)
            a = torch.softmax(s, dim=-1, dtype=torch.float32)
            o = (a @ v).transpose(1, 2).reshape(B, L, nh * hd)
            x = x + o @ w[p + "self_attn.o_proj.weight"].T
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], self.eps)
            if cfg["moe_layer_freq"][i] == 0:
                x = x + mlp(h, w, p + "mlp.")
                continue
            y, logits, sel, wts = self.moe(h.reshape(B * L, -1), p)
            y = y.view(B, L, -1)
            if cfg.get("shared_expert_intermediate_size") is not None:
                y = y + mlp(h, w, p + "shared_expert.")
            x = x + y
            if trace is not None:
                trace["router_logits"].append(logits)
                trace["selected"].append(sel.view(B, L, -1))
                trace["weights"].append(wts.view(B, L, -1))
                trace["layers"].append(i)
        x = rms_norm(x, w["model.norm.weight"], self.eps)
        return x @ self.head.T

    __call__ = forward


def load_balancing_loss(router_logits, num_experts, top_k):
    """load_balancing_loss_func with attention_mask None (the published function, Mixtral's):
    over the concatenated router logits of all MoE layers, E * sum_e f_e * P_e where f counts
    the top-k assignments of softmax(logits) per (slot, expert) and P is the mean probability."""
    cat = torch.cat(list(router_logits), dim=0)
    routing_weights = F.softmax(cat, dim=-1)
    _, selected = torch.topk(routing_weights, top_k, dim=-1)
    expert_mask = F.one_hot(selected, num_experts)              # (T, K, E)
    tokens_per_expert = torch.mean(expert_mask.float(), dim=0)  # (K, E)
    router_prob_per_expert = torch.mean(routing_weights, dim=0) # (E,)
    return torch.sum(tokens_per_expert * router_prob_per_expert.unsqueeze(0)) * num_experts


def lladamoe_config(hidden_size, num_attention_heads, num_key_value_heads, num_hidden_layers,
                    moe_layer_freq, num_experts, num_experts_per_tok, expert_intermediate_size,
                    dense_intermediate_size, vocab_size, shared_expert_intermediate_size=None,
                    expert_bias=False, qk_layernorm=False, tie_word_embeddings=False,
                    norm_topk_prob=False, rope_theta=50000.0, max_position_embeddings=256,
                    eos_token_id=None, mask_token_id=None, torch_dtype="bfloat16"):
    """A config.json dict with the field names of LLaDA-MoE's configuration_lladamoe.py (the
    published architectures / model_type / auto_map). Fields whose 7B value is not used by the
    forward keep the config class defaults. mask_token_id is not a field of the published
    class (the checkpoint's tokenizer fixes it at 156895); a tiny vocabulary needs its own."""
    if eos_token_id is None:
        eos_token_id = vocab_size - 2
    if mask_token_id is None:
        mask_token_id = vocab_size - 1
    return {
        "architectures": ["LLaDAMoEModelLM"],
        "auto_map": {
            "AutoConfig": "configuration_lladamoe.LLaDAConfig",
            "AutoModel": "modeling_lladamoe.LLaDAMoEModelLM",
            "AutoModelForCausalLM": "modeling_lladamoe.LLaDAMoEModelLM",
        },
        "model_type": "llada",
        "torch_dtype": torch_dtype,
        "vocab_size": vocab_size,
        "hidden_size": hidden_size,
        "dense_intermediate_size": dense_intermediate_size,
        "expert_intermediate_size": expert_intermediate_size,
        "shared_expert_intermediate_size": shared_expert_intermediate_size,
        "num_hidden_layers": num_hidden_layers,
        "num_attention_heads": num_attention_heads,
        "num_key_value_heads": num_key_value_heads,
        "hidden_act": "silu",
        "max_position_embeddings": max_position_embeddings,
        "initializer_range": 0.02,
        "rms_norm_eps": 1e-5,
        "use_cache": False,
        "pad_token_id": eos_token_id,
        "eos_token_id": eos_token_id,
        "mask_token_id": mask_token_id,
        "tie_word_embeddings": tie_word_embeddings,
        "rope_theta": rope_theta,
        "partial_rotary_factor": 1.0,
        "rope_scaling": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "clip_qkv": None,
        "num_experts_per_tok": num_experts_per_tok,
        "num_experts": num_experts,
        "output_router_logits": False,
        "router_aux_loss_coef": 0.01,
        "norm_topk_prob": norm_topk_prob,
        "qk_layernorm": qk_layernorm,
        "moe_layer_freq": list(moe_layer_freq),
        "moe_router_enable_expert_bias": expert_bias,
        "moe_router_score_function": "softmax",
        "routed_scaling_factor": 1,
        "router_num_group": -2,
        "router_topk_group": -2,
    }


def random_weights(cfg, seed, router_gain=3.0, qk_gain=2.0):
    """Random weights with decisive routing and attention that matters: linears N(0, gain^2/in),
    the router with a larger gain (well separated top-k scores), embeddings N(0, 1), norm
    weights U(0.7, 1.3), the expert bias (when enabled) U(-0.06, 0.06), the head scaled so
    logits spread over a few units (with the embedding mixed in, so tokens tend to predict
    themselves) and the mask token's head row shrunk."""
    g = torch.Generator().manual_seed(int(seed))
    d, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd, V, E = d // nh, cfg["vocab_size"], cfg["num_experts"]

    def lin(out_f, in_f, gain=1.0):
        return torch.randn(out_f, in_f, generator=g) * (gain / math.sqrt(in_f))

    def norm(n):
        return 0.7 + 0.6 * torch.rand(n, generator=g)

    def ffn(p, width):
        w[p + "gate_proj.weight"] = lin(width, d, 1.5)
        w[p + "up_proj.weight"] = lin(width, d, 1.5)
        w[p + "down_proj.weight"] = lin(d, width, 1.0)

    w = {"model.embed_tokens.weight": torch.randn(V, d, generator=g)}
    for i in range(cfg["num_hidden_layers"]):
        p = layer_prefix(i)
        w[p + "input_layernorm.weight"] = norm(d)
        w[p + "self_attn.q_proj.weight"] = lin(nh * hd, d, qk_gain)
        w[p + "self_attn.k_proj.weight"] = lin(nkv * hd, d, qk_gain)
        w[p + "self_attn.v_proj.weight"] = lin(nkv * hd, d)
        w[p + "self_attn.o_proj.weight"] = lin(d, nh * hd)
        if cfg.get("qk_layernorm"):
            w[p + "self_attn.q_norm.weight"] = 0.5 + torch.rand(hd, generator=g)
            w[p + "self_attn.k_norm.weight"] = 0.5 + torch.rand(hd, generator=g)
        w[p + "post_attention_layernorm.weight"] = norm(d)
        if cfg["moe_layer_freq"][i] == 0:
            ffn(p + "mlp.", cfg["dense_intermediate_size"])
            continue
        w[p + "mlp.gate.weight"] = lin(E, d, router_gain)
        if cfg.get("moe_router_enable_expert_bias"):
            w[p + "mlp.expert_bias"] = 0.12 * (torch.rand(E, generator=g) - 0.5)
        for j in range(E):
            ffn(p + "mlp.experts.%d." % j, cfg["expert_intermediate_size"])
        if cfg.get("shared_expert_intermediate_size") is not None:
            ffn(p + "shared_expert.", cfg["shared_expert_intermediate_size"])
    w["model.norm.weight"] = norm(d)
    head_std = 2.5 / math.sqrt(d)
    mid = cfg.get("mask_token_id")
    if cfg.get("tie_word_embeddings", False):
        w["model.embed_tokens.weight"] = w["model.embed_tokens.weight"] * head_std
        w["model.embed_tokens.weight"][mid] *= 0.25
    else:
        w["lm_head.weight"] = (torch.randn(V, d, generator=g) + w["model.embed_tokens.weight"]) * head_std
        w["lm_head.weight"][mid] *= 0.25
    assert sorted(w) == sorted(tensor_names(cfg))
    return w
