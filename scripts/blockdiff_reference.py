#!/usr/bin/python3
"""Independent PyTorch reference for three published block diffusion layouts, used to make goldens.

Written from the public modelling / generation code (read, not imported; transformers is not needed):
  - SDAR (JetAstra/SDAR: generate.py `block_diffusion_generate`; modeling_sdar.py SDARForCausalLM):
    a Qwen3 block (q_norm / k_norm: RMSNorm over each head's head_dim values before RoPE, explicit
    head_dim, attention_bias on q/k/v/o), config.json with `block_size` and `mask_token_id`.
  - Fast-dLLM v2 (Efficient-Large-Model/Fast_dLLM_v2_1.5B / _7B: modeling.py Fast_dLLM_QwenForCausalLM
    and its `generate`): a Qwen2 block (q/k/v biases, no o bias), config.json with `bd_size`; the
    generate loop without the block (sub-block) cache.
  - LLaDA2.0-mini (inclusionAI: modeling_llada2_moe.py LLaDA2MoeModelLM, configuration_llada2_moe.py):
    fused query_key_value, optional q/k RMSNorm, partial rotary (RoPE on the first
    int(head_dim * partial_rotary_factor) dims of each head, rotate-half within them), `dense` output
    projection (bias = use_bias), first_k_dense_replace dense MLP layers then the sigmoid
    group-limited MoE (scripts/llada2_moe_reference.py) with shared experts, and its `generate`.

Every model is run here WITHOUT a KV cache, on the whole canvas prefix, with the explicit
block-causal mask: key j is visible to query i iff j // B <= i // B (blocks aligned at position 0,
positions 0..L-1). For these models that equals what the published cached code computes (a finished
block's keys/values depend only on blocks <= itself); see the generate functions for where the
published loops do something else (noted as QUIRK).

Numerics: `forward(..., dtype=torch.float32)` is the reference (weights as stored, widened);
dtype=torch.float64 runs the same vectorised code in double (used to check that every greedy decision
is precision-robust); `naive_forward` is an independent float64 loop implementation (explicit
per-position / per-head / per-pair loops, explicit routing sorts) for the logits cross-check.

Greedy (temperature 0) everywhere: token = argmax of the logits, confidence = softmax(logits)[token]
in the forward's dtype (temperature-1 probabilities). See tests/golden/blockdiff/README.md for why.

Run with /usr/bin/python3 (torch 1.13 CPU).
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llada2_moe_reference as MOE  # noqa: E402  (LLaDA2 router / expert block)

# --------------------------------------------------------------------------------------
# config.json dialects
# --------------------------------------------------------------------------------------

ARCHITECTURES = {
    "SDARForCausalLM": ("sdar", "sdar"),
    "Fast_dLLM_QwenForCausalLM": ("fastdllm", "Fast_dLLM_Qwen"),
    "LLaDA2MoeModelLM": ("llada2", "llada2_moe"),
}

# Keyword defaults of the three config classes (SDARConfig / Fast_dLLM_QwenConfig follow Qwen3Config /
# Qwen2Config; LLaDA2MoeConfig from configuration_llada2_moe.py), only the fields the models read.
DEFAULTS = {
    "sdar": {"vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 22016, "num_hidden_layers": 32,
             "num_attention_heads": 32, "num_key_value_heads": 32, "head_dim": 128, "hidden_act": "silu",
             "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None, "attention_bias": False,
             "tie_word_embeddings": False, "use_sliding_window": False, "block_size": None,
             "mask_token_id": None, "eos_token_id": None},
    "fastdllm": {"vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 22016, "num_hidden_layers": 32,
                 "num_attention_heads": 32, "num_key_value_heads": 32, "head_dim": None, "hidden_act": "silu",
                 "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None, "tie_word_embeddings": False,
                 "use_sliding_window": False, "bd_size": 32, "eos_token_id": None},
    "llada2": {"vocab_size": 30592, "hidden_size": 1024, "intermediate_size": None, "num_hidden_layers": 24,
               "num_attention_heads": 16, "num_key_value_heads": 0, "head_dim": None, "hidden_act": "silu",
               "use_qkv_bias": False, "use_qk_norm": True, "use_bias": True, "rms_norm_eps": 1e-5,
               "rope_theta": 10000.0, "rope_scaling": None, "tie_word_embeddings": False,
               "num_experts": 16, "num_shared_experts": 0, "num_experts_per_tok": 2, "n_group": 8,
               "topk_group": 4, "routed_scaling_factor": 2.5, "moe_intermediate_size": None,
               "first_k_dense_replace": 0, "partial_rotary_factor": 0.5, "eos_token_id": None},
}


def resolve_config(cfg):
    """The effective hyper-parameters of a config.json dict as the published config class and
    modelling code see them. Refuses what this reference does not implement."""
    fam, mtype = ARCHITECTURES[cfg["architectures"][0]]
    assert cfg.get("model_type", mtype) == mtype, (cfg.get("model_type"), mtype)
    d = dict(DEFAULTS[fam])
    d.update(cfg)
    if d.get("num_key_value_heads") is None:
        d["num_key_value_heads"] = d["num_attention_heads"]
    assert d["hidden_act"] == "silu"
    rs = d.get("rope_scaling")
    assert rs is None or rs.get("rope_type", rs.get("type", "default")) == "default"
    nh, nkv = d["num_attention_heads"], d["num_key_value_heads"]
    assert nkv > 0 and nh % nkv == 0
    hd = d.get("head_dim") or d["hidden_size"] // nh
    rc = {"family": fam, "architecture": cfg["architectures"][0], "vocab_size": d["vocab_size"],
          "hidden_size": d["hidden_size"], "intermediate_size": d["intermediate_size"],
          "num_hidden_layers": d["num_hidden_layers"], "num_attention_heads": nh, "num_key_value_heads": nkv,
          "head_dim": hd, "rope_theta": float(d["rope_theta"]), "rms_norm_eps": float(d["rms_norm_eps"]),
          "tie_word_embeddings": bool(d["tie_word_embeddings"]), "eos_token_id": d.get("eos_token_id")}
    if fam == "sdar":
        assert not d["use_sliding_window"]
        rc.update(rope_dim=hd, qkv="separate", bias_qkv=bool(d["attention_bias"]), bias_o=bool(d["attention_bias"]),
                  qk_norm=True, block_size=d["block_size"], mask_token_id=d["mask_token_id"])
    elif fam == "fastdllm":
        assert not d["use_sliding_window"]
        assert all(t == "full_attention" for t in d.get("layer_types") or [])
        rc.update(rope_dim=hd, qkv="separate", bias_qkv=True, bias_o=False, qk_norm=False,
                  block_size=d["bd_size"], mask_token_id=None)
    else:
        E, G = d["num_experts"], d["n_group"]
        assert E % G == 0 and E // G >= 2 and 1 <= d["topk_group"] <= G
        rope_dim = int(hd * d["partial_rotary_factor"])
        assert rope_dim % 2 == 0 and 0 < rope_dim <= hd
        rc.update(rope_dim=rope_dim, qkv="fused", bias_qkv=bool(d["use_qkv_bias"]), bias_o=bool(d["use_bias"]),
                  qk_norm=bool(d["use_qk_norm"]), block_size=None, mask_token_id=None,
                  num_experts=E, num_shared_experts=d["num_shared_experts"] or 0,
                  num_experts_per_tok=d["num_experts_per_tok"], n_group=G, topk_group=d["topk_group"],
                  routed_scaling_factor=float(d["routed_scaling_factor"]),
                  moe_intermediate_size=d["moe_intermediate_size"], first_k_dense_replace=d["first_k_dense_replace"])
    return rc


def is_moe_layer(rc, i):
    return rc["family"] == "llada2" and i >= rc["first_k_dense_replace"]


def tensor_names(rc):
    """Every tensor name of the published layout for a resolved config."""
    L = rc["num_hidden_layers"]
    if rc["family"] == "llada2":
        names = ["model.word_embeddings.weight", "model.norm.weight"]
        if not rc["tie_word_embeddings"]:
            names.append("lm_head.weight")
        for i in range(L):
            p = "model.layers.%d." % i
            names += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight",
                      p + "attention.query_key_value.weight", p + "attention.dense.weight"]
            if rc["bias_qkv"]:
                names.append(p + "attention.query_key_value.bias")
            if rc["bias_o"]:
                names.append(p + "attention.dense.bias")
            if rc["qk_norm"]:
                names += [p + "attention.query_layernorm.weight", p + "attention.key_layernorm.weight"]
            mlps = []
            if is_moe_layer(rc, i):
                names += [p + "mlp.gate.weight", p + "mlp.gate.expert_bias"]
                mlps = [p + "mlp.experts.%d." % e for e in range(rc["num_experts"])]
                if rc["num_shared_experts"]:
                    mlps.append(p + "mlp.shared_experts.")
            else:
                mlps = [p + "mlp."]
            for m in mlps:
                names += [m + "gate_proj.weight", m + "up_proj.weight", m + "down_proj.weight"]
        return names
    names = ["model.embed_tokens.weight", "model.norm.weight"]
    if not rc["tie_word_embeddings"]:
        names.append("lm_head.weight")
    for i in range(L):
        p = "model.layers.%d." % i
        names += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight",
                  p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", p + "mlp.down_proj.weight"]
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            names.append(p + "self_attn.%s.weight" % proj)
            if (proj != "o_proj" and rc["bias_qkv"]) or (proj == "o_proj" and rc["bias_o"]):
                names.append(p + "self_attn.%s.bias" % proj)
        if rc["qk_norm"]:
            names += [p + "self_attn.q_norm.weight", p + "self_attn.k_norm.weight"]
    return names


def embed_name(rc):
    return "model.word_embeddings.weight" if rc["family"] == "llada2" else "model.embed_tokens.weight"


def head_name(rc):
    return embed_name(rc) if rc["tie_word_embeddings"] else "lm_head.weight"


# --------------------------------------------------------------------------------------
# model (vectorised, float32 or float64)
# --------------------------------------------------------------------------------------

def block_causal(L, B):
    """allowed[i, j] = j // B <= i // B (block b sees blocks 0..b, bidirectional inside a block)."""
    blk = torch.arange(L) // B
    return blk[None, :] <= blk[:, None]


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rope_cos_sin(L, rope_dim, theta, dtype):
    """Default RoPE over the first rope_dim dims: inv_freq = 1 / theta^(arange(0, rope_dim, 2) / rope_dim)
    in float32 (as the published rotary classes), emb = cat(freqs, freqs)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, rope_dim, 2, dtype=torch.int64).to(torch.float32) / rope_dim))
    freqs = torch.arange(L, dtype=torch.float32)[:, None] * inv_freq[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    if dtype == torch.float64:  # the double path computes the angles in double too
        inv64 = 1.0 / (theta ** (torch.arange(0, rope_dim, 2, dtype=torch.float64) / rope_dim))
        f64 = torch.arange(L, dtype=torch.float64)[:, None] * inv64[None, :]
        emb = torch.cat([f64, f64], dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def apply_rope(x, cos, sin, rope_dim):
    """x (H, L, hd): rotate-half RoPE on x[..., :rope_dim], the rest passes through."""
    xr, xp = x[..., :rope_dim], x[..., rope_dim:]
    return torch.cat([xr * cos + rotate_half(xr) * sin, xp], dim=-1)


class BlockDiffRef:
    """The forward of a resolved config over weights (name -> tensor), no cache, explicit block-causal mask."""

    def __init__(self, rc, weights, dtype=torch.float32):
        assert sorted(weights) == sorted(tensor_names(rc)), "tensor names differ from the layout"
        self.rc, self.dtype = rc, dtype
        self.w = {k: v.to(dtype).contiguous() for k, v in weights.items()}
        self.forwards = 0

    def _lin(self, h, name):
        y = h @ self.w[name + ".weight"].T
        return y + self.w[name + ".bias"] if name + ".bias" in self.w else y

    def _mlp(self, h, p):
        return self._lin(F.silu(self._lin(h, p + "gate_proj")) * self._lin(h, p + "up_proj"), p + "down_proj")

    def _moe(self, h, p):
        rc, w = self.rc, self.w
        prm = {"router": w[p + "gate.weight"], "expert_bias": w[p + "gate.expert_bias"],
               "experts": [tuple(w[p + "experts.%d.%s_proj.weight" % (e, n)] for n in ("gate", "up", "down"))
                           for e in range(rc["num_experts"])],
               "shared": (tuple(w[p + "shared_experts.%s_proj.weight" % n] for n in ("gate", "up", "down"))
                          if rc["num_shared_experts"] else None)}
        if self.dtype == torch.float64:  # the shared router helper works in float32: keep the double path double
            s = torch.sigmoid(h @ prm["router"].T)
            b = s + prm["expert_bias"]
            n, E = b.shape
            gs = b.view(n, rc["n_group"], -1).topk(2, dim=-1)[0].sum(-1)
            gi = torch.topk(gs, rc["topk_group"], dim=-1, sorted=False)[1]
            gm = torch.zeros_like(gs).scatter_(1, gi, 1).unsqueeze(-1).expand(n, rc["n_group"], E // rc["n_group"])
            sel = torch.topk(b.masked_fill(~gm.reshape(n, E).bool(), float("-inf")), rc["num_experts_per_tok"], -1)[1]
            wt = s.gather(1, sel)
            if rc["num_experts_per_tok"] > 1:
                wt = wt / (wt.sum(-1, keepdim=True) + 1e-20)
            wt = wt * rc["routed_scaling_factor"]
            y = torch.zeros_like(h)
            for e, (g, u, dn) in enumerate(prm["experts"]):
                tok, slot = torch.where(sel == e)
                if tok.numel():
                    y.index_add_(0, tok, MOE.ffn(h[tok], g, u, dn) * wt[tok, slot].unsqueeze(-1))
            if prm["shared"] is not None:
                y = y + MOE.ffn(h, *prm["shared"])
            return y
        y, _, _ = MOE.moe_block(h, prm, rc)
        return y

    def logits(self, ids, block_size):
        """ids: a sequence of L token ids at positions 0..L-1; block-causal attention with block_size.
        Returns logits (L, V) in self.dtype (unshifted: row i is what the model outputs at position i)."""
        rc, w = self.rc, self.w
        self.forwards += 1
        ids = torch.as_tensor(list(ids), dtype=torch.int64)
        L = ids.shape[0]
        nh, nkv, hd, eps = rc["num_attention_heads"], rc["num_key_value_heads"], rc["head_dim"], rc["rms_norm_eps"]
        x = w[embed_name(rc)][ids]
        cos, sin = rope_cos_sin(L, rc["rope_dim"], rc["rope_theta"], self.dtype)
        allowed = block_causal(L, block_size)
        for i in range(rc["num_hidden_layers"]):
            p = "model.layers.%d." % i
            h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
            if rc["qkv"] == "fused":
                qkv = self._lin(h, p + "attention.query_key_value").view(L, nh + 2 * nkv, hd)
                q, k, v = qkv[:, :nh], qkv[:, nh:nh + nkv], qkv[:, nh + nkv:]
                qn, kn, on = p + "attention.query_layernorm.weight", p + "attention.key_layernorm.weight", p + "attention.dense"
            else:
                q = self._lin(h, p + "self_attn.q_proj").view(L, nh, hd)
                k = self._lin(h, p + "self_attn.k_proj").view(L, nkv, hd)
                v = self._lin(h, p + "self_attn.v_proj").view(L, nkv, hd)
                qn, kn, on = p + "self_attn.q_norm.weight", p + "self_attn.k_norm.weight", p + "self_attn.o_proj"
            if rc["qk_norm"]:  # per head over head_dim, before RoPE
                q, k = rms_norm(q, w[qn], eps), rms_norm(k, w[kn], eps)
            q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # (H, L, hd)
            q, k = apply_rope(q, cos, sin, rc["rope_dim"]), apply_rope(k, cos, sin, rc["rope_dim"])
            k = k.repeat_interleave(nh // nkv, dim=0)  # query head j uses kv head j // (nh / nkv)
            v = v.repeat_interleave(nh // nkv, dim=0)
            s = (q @ k.transpose(-1, -2)) * hd ** -0.5
            a = torch.softmax(s.masked_fill(~allowed, float("-inf")), dim=-1)
            o = (a @ v).transpose(0, 1).reshape(L, nh * hd)
            x = x + self._lin(o, on)
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
            if is_moe_layer(rc, i):
                x = x + self._moe(h, p + "mlp.")
            else:
                x = x + self._mlp(h, p + "mlp.")
        return rms_norm(x, w["model.norm.weight"], eps) @ w[head_name(rc)].T


# --------------------------------------------------------------------------------------
# naive float64 loops (independent of BlockDiffRef)
# --------------------------------------------------------------------------------------

def naive_forward(rc, weights, ids, block_size):
    """Slow float64 loops over position, head, dimension pair and expert; explicit block grid test
    (j // B <= i // B), explicit per-key softmax, explicit routing sorts. Returns numpy (L, V)."""
    W = {k: v.to(torch.float64).numpy() for k, v in weights.items()}
    nh, nkv, hd, eps = rc["num_attention_heads"], rc["num_key_value_heads"], rc["head_dim"], rc["rms_norm_eps"]
    rd, theta, grp = rc["rope_dim"], rc["rope_theta"], rc["num_attention_heads"] // rc["num_key_value_heads"]
    ids = list(ids)
    L = len(ids)

    def rms(v, g):
        return v / math.sqrt(float(np.mean(v * v)) + eps) * g

    def rope(vec, pos):
        out = vec.copy()
        half = rd // 2
        for j in range(half):
            ang = pos * theta ** (-2.0 * j / rd)
            c, s = math.cos(ang), math.sin(ang)
            out[j] = vec[j] * c - vec[j + half] * s
            out[j + half] = vec[j + half] * c + vec[j] * s
        return out

    def lin(name, v):
        y = W[name + ".weight"] @ v
        return y + W[name + ".bias"] if name + ".bias" in W else y

    def silu(z):
        return z / (1.0 + np.exp(-z))

    def mlp(p, v):
        return W[p + "down_proj.weight"] @ (silu(W[p + "gate_proj.weight"] @ v) * (W[p + "up_proj.weight"] @ v))

    def moe(p, v):
        E, G, K = rc["num_experts"], rc["n_group"], rc["num_experts_per_tok"]
        per = E // G
        s = [1.0 / (1.0 + math.exp(-float(W[p + "gate.weight"][e] @ v))) for e in range(E)]
        b = [s[e] + float(W[p + "gate.expert_bias"][e]) for e in range(E)]
        gsc = [sum(sorted(b[g * per:(g + 1) * per], reverse=True)[:2]) for g in range(G)]
        keep = sorted(range(G), key=lambda g: (-gsc[g], g))[:rc["topk_group"]]
        cand = sorted([e for g in keep for e in range(g * per, (g + 1) * per)], key=lambda e: (-b[e], e))[:K]
        ws = [s[e] for e in cand]
        tot = sum(ws)
        out = np.zeros_like(v)
        for e, we in zip(cand, ws):
            out += (we / (tot + 1e-20) if K > 1 else we) * rc["routed_scaling_factor"] * mlp(p + "experts.%d." % e, v)
        if rc["num_shared_experts"]:
            out += mlp(p + "shared_experts.", v)
        return out

    x = [W[embed_name(rc)][t].copy() for t in ids]
    for li in range(rc["num_hidden_layers"]):
        p = "model.layers.%d." % li
        hs = [rms(x[t], W[p + "input_layernorm.weight"]) for t in range(L)]
        qs, ks, vs = [], [], []
        for t in range(L):
            if rc["qkv"] == "fused":
                z = lin(p + "attention.query_key_value", hs[t])
                qs.append(z[:nh * hd]); ks.append(z[nh * hd:(nh + nkv) * hd]); vs.append(z[(nh + nkv) * hd:])
            else:
                qs.append(lin(p + "self_attn.q_proj", hs[t])); ks.append(lin(p + "self_attn.k_proj", hs[t]))
                vs.append(lin(p + "self_attn.v_proj", hs[t]))
        qn = p + ("attention.query_layernorm.weight" if rc["qkv"] == "fused" else "self_attn.q_norm.weight")
        kn = p + ("attention.key_layernorm.weight" if rc["qkv"] == "fused" else "self_attn.k_norm.weight")
        o = [np.zeros(nh * hd) for _ in range(L)]
        for hh in range(nh):
            kv = hh // grp
            qh, kh = [], []
            for t in range(L):
                a, c = qs[t][hh * hd:(hh + 1) * hd], ks[t][kv * hd:(kv + 1) * hd]
                if rc["qk_norm"]:
                    a, c = rms(a, W[qn]), rms(c, W[kn])
                qh.append(rope(a, t)); kh.append(rope(c, t))
            for t in range(L):
                keys = [j for j in range(L) if j // block_size <= t // block_size]
                sc = np.array([float(qh[t] @ kh[j]) / math.sqrt(hd) for j in keys])
                e = np.exp(sc - sc.max())
                for a, j in zip(e / e.sum(), keys):
                    o[t][hh * hd:(hh + 1) * hd] += a * vs[j][kv * hd:(kv + 1) * hd]
        on = p + ("attention.dense" if rc["qkv"] == "fused" else "self_attn.o_proj")
        for t in range(L):
            x[t] = x[t] + lin(on, o[t])
            h2 = rms(x[t], W[p + "post_attention_layernorm.weight"])
            x[t] = x[t] + (moe(p + "mlp.", h2) if is_moe_layer(rc, li) else mlp(p + "mlp.", h2))
    head = W[head_name(rc)]
    return np.stack([head @ rms(x[t], W["model.norm.weight"]) for t in range(L)])


# --------------------------------------------------------------------------------------
# greedy helpers and step bookkeeping
# --------------------------------------------------------------------------------------

class HazardError(Exception):
    """A published loop would take a branch whose result this reference refuses to define."""


def greedy(logits):
    """(token = argmax logits, confidence = softmax(logits)[token]) per row."""
    p = torch.softmax(logits, dim=-1)
    tok = logits.argmax(-1)
    return tok, p.gather(-1, tok[:, None])[:, 0], p


def top2_gap(logits_row):
    t = torch.topk(logits_row.double(), 2).values
    return float(t[0] - t[1])


def get_num_transfer_tokens(block_length, steps):
    """SDAR / LLaDA2: block_length // steps per step, the first block_length % steps steps get one more."""
    if steps == 0:
        return []
    base, rem = divmod(block_length, steps)
    return [base + (1 if i < rem else 0) for i in range(steps)]


def _topk_positions(conf, k):
    """Indices of the k largest finite values of conf (list of floats, -inf for excluded), descending;
    refuses when fewer than k are finite (the published torch.topk would then pick -inf entries in an
    unspecified order) and returns the ordering margin (k-th minus (k+1)-th)."""
    finite = sorted([i for i, c in enumerate(conf) if c != float("-inf")], key=lambda i: (-conf[i], i))
    if k > len(finite):
        raise HazardError("top-k of %d over %d masked positions" % (k, len(finite)))
    sel = finite[:k]
    margin = conf[finite[k - 1]] - conf[finite[k]] if 0 < k < len(finite) else float("inf")
    return sel, margin


def _step_record(kind, lo, masked, toks, confs, logits, chosen, threshold, branch, k, margin):
    """One decoding step: absolute positions committed (ascending), their tokens, the branch, and the
    conditioning margins (threshold distance over all masked positions, top-1/top-2 logit gap of the
    committed positions, the top-k ordering margin when it mattered)."""
    thr = min((abs(float(confs[i]) - threshold) for i in masked), default=float("inf")) if threshold is not None else float("inf")
    gap = min((top2_gap(logits[i]) for i in chosen), default=float("inf"))
    return {"kind": kind, "positions": [lo + i for i in sorted(chosen)], "tokens": [int(toks[i]) for i in sorted(chosen)],
            "branch": branch, "n_masked": len(masked), "k": k, "threshold_margin": thr, "argmax_gap": gap,
            "order_margin": margin}


# --------------------------------------------------------------------------------------
# SDAR: block_diffusion_generate (JetAstra/SDAR generate.py), greedy
# --------------------------------------------------------------------------------------

@torch.no_grad()
def sdar_generate(model, prompt, mask_id, gen_length=128, block_length=8, denoising_steps=8, temperature=0.0,
                  top_k=0, top_p=1.0, remasking_strategy="low_confidence_dynamic", confidence_threshold=0.85,
                  stopping_criteria_idx=None):
    """Canvas of num_blocks = ceil((P + gen_length) / block_length) blocks (so up to block_length - 1
    positions more than P + gen_length), prompt then mask_id. Blocks P // block_length .. num_blocks - 1
    are decoded in order; a block is decoded in at most denoising_steps + 1 iterations: if it has no mask
    left, one forward stores its KV and the block ends, else one forward (the block's rows of the
    block-causal canvas prefix) and a commit of
      low_confidence_static : the num_transfer_tokens[step] masked positions of highest confidence;
      low_confidence_dynamic: every masked position with confidence > confidence_threshold if there are at
                              least num_transfer_tokens[step] of them, else the static rule;
    (num_transfer_tokens = get_num_transfer_tokens(block_length, denoising_steps), computed for a whole
    block even when prompt tokens fill part of it). After each block: stop if any id of
    stopping_criteria_idx occurs in canvas[P:]. Returns (canvas as published, forwards, trace).
    Refuses (HazardError) a top-k over fewer masked positions than k: the published topk would then
    also pick unmasked positions (prompt or committed tokens) and overwrite them with their argmax."""
    assert temperature == 0 and top_k == 0 and top_p == 1.0, "greedy only"
    P, B = len(prompt), block_length
    num_blocks = (P + gen_length + B - 1) // B
    x = list(prompt) + [mask_id] * (num_blocks * B - P)
    prefill_blocks = P // B
    fw = {"prefill": 0, "denoise": 0, "store_kv": 0}
    if prefill_blocks > 0:
        fw["prefill"] += 1
    sched = get_num_transfer_tokens(B, denoising_steps)
    trace = []
    for nb in range(prefill_blocks, num_blocks):
        lo, hi = nb * B, (nb + 1) * B
        for step in range(denoising_steps + 1):
            masked = [i for i in range(B) if x[lo + i] == mask_id]
            if not masked:
                fw["store_kv"] += 1
                break
            if step >= len(sched):
                raise HazardError("masks left after denoising_steps steps (published: index out of range)")
            logits = model.logits(x[:hi], B)[lo:hi]
            fw["denoise"] += 1
            toks, confs, _ = greedy(logits)
            conf = [float(confs[i]) if i in masked else float("-inf") for i in range(B)]
            k = sched[step]
            margin = float("inf")
            if remasking_strategy == "low_confidence_static":
                chosen, margin = _topk_positions(conf, k)
                branch = "topk"
            elif remasking_strategy == "low_confidence_dynamic":
                high = [i for i in masked if conf[i] > confidence_threshold]
                if len(high) >= k:
                    chosen, branch = high, "threshold"
                else:
                    chosen, margin = _topk_positions(conf, k)
                    branch = "topk"
            else:
                raise ValueError(remasking_strategy)
            for i in chosen:
                x[lo + i] = int(toks[i])
            trace.append(dict(_step_record("denoise", lo, masked, toks, confs, logits, chosen,
                                           confidence_threshold if remasking_strategy != "low_confidence_static" else None,
                                           branch, k, margin), block=nb, step=step))
        if stopping_criteria_idx is not None and any(s in x[P:] for s in stopping_criteria_idx):
            break
    return x, fw, trace


# --------------------------------------------------------------------------------------
# Fast-dLLM v2: Fast_dLLM_QwenForCausalLM.generate, use_block_cache=False, greedy
# --------------------------------------------------------------------------------------

@torch.no_grad()
def fastdllm_generate(model, input_ids, max_new_tokens, mask_id=151665, threshold=1.0, small_block_size=8,
                      block_size=32, stop_token=151645, top_p=0.95, temperature=0.0, use_block_cache=False):
    """Emulates the published loop with an explicit list `ctx` of the tokens whose keys/values the
    published past_key_values holds (positions 0..len(ctx)-1); every forward is the block-causal
    forward of ctx + the current block (the last block_size canvas tokens), rows of the block.
      prefill: if P > block_size, one forward of the floor(P / B) * B first prompt tokens (ctx = them);
               if moreover P % B == 0, the argmax of its last row is appended (an AR token).
      QUIRK: if P <= block_size there is no prefill; if P == block_size exactly, the first block is
               then decoded from the B mask tokens alone (ctx empty, positions 0..B-1): the prompt is
               never seen, and later blocks see only generated blocks, at positions shifted by -B.
      blocks: max_new_tokens // B times: stop if stop_token is in canvas[P:]; append B - len % B masks;
               loop: stop check; if the block has no mask, one forward (ctx += block), append the argmax of
               its last row (AR token), next block; else for each sub-block in order, while it has a mask
               and the stop check fails: one forward, logits shifted right by one inside the block
               (row i <- row i-1, row 0 keeps its own), sub-block rows, p = softmax, x1 = argmax p, commit
               every masked position with p[x1] > threshold plus the masked position of largest p[x1].
      stop check: stop_token occurs in canvas[plen:] (plen = length before this block's masks) and no
               mask precedes its first occurrence there.
    Returns the canvas truncated after the first stop_token after P (inclusive) if any, plus forwards
    and trace."""
    assert temperature == 0 and not use_block_cache, "greedy, no block cache"
    B, S = block_size, small_block_size
    assert B % S == 0 and 32 % B == 0, "the published denoising forwards build their mask with block_size 32"
    P0 = len(input_ids)
    ids = list(input_ids)
    ctx = []
    fw = {"prefill": 0, "denoise": 0, "block_commit": 0}
    trace = []
    if P0 > B:
        n = P0 // B * B
        logits = model.logits(ids[:n], B)
        fw["prefill"] += 1
        ctx = ids[:n]
        if P0 % B == 0:
            ids.append(int(logits[-1].argmax()))
            trace.append({"kind": "ar_token", "positions": [n], "tokens": [ids[-1]], "argmax_gap": top2_gap(logits[-1])})

    def stop_cond(x, plen):
        tail = x[plen:]
        if stop_token not in tail:
            return False
        j = tail.index(stop_token)
        return mask_id not in tail[:j]

    for _ in range(max_new_tokens // B):
        if stop_token in ids[P0:]:
            break
        plen = len(ids)
        x = ids + [mask_id] * (B - plen % B)
        lo = len(x) - B
        while True:
            if stop_cond(x, plen):
                break
            if mask_id not in x[lo:]:
                logits = model.logits(ctx + x[lo:], B)[-B:]
                fw["block_commit"] += 1
                ctx = ctx + x[lo:]
                x.append(int(logits[-1].argmax()))
                trace.append({"kind": "ar_token", "positions": [len(x) - 1], "tokens": [x[-1]], "argmax_gap": top2_gap(logits[-1])})
                break
            for sb in range(B // S):
                s0 = lo + sb * S
                while True:
                    masked = [i for i in range(S) if x[s0 + i] == mask_id]
                    if not masked or stop_cond(x, plen):
                        break
                    full = model.logits(ctx + x[lo:], B)[-B:]
                    fw["denoise"] += 1
                    shifted = torch.cat([full[:1], full[:-1]], dim=0)[sb * S:(sb + 1) * S]
                    p = torch.softmax(shifted, dim=-1)
                    x1 = p.argmax(-1)
                    x1p = p.gather(-1, x1[:, None])[:, 0]
                    conf = [float(x1p[i]) if i in masked else float("-inf") for i in range(S)]
                    high = [i for i in masked if conf[i] > threshold]
                    best = max(range(S), key=lambda i: (conf[i], -i))  # torch argmax: first maximum
                    chosen = sorted(set(high) | {best})
                    # rows 0 and 1 of the shifted logits are the same row: when both are masked their
                    # confidences tie exactly and the first maximum (position 0) wins by construction.
                    dup = 1 if sb == 0 and 0 in masked and 1 in masked else None
                    order = sorted((conf[i] for i in masked if i != dup), reverse=True)
                    margin = order[0] - order[1] if (not high and len(order) > 1) else float("inf")
                    for i in chosen:
                        x[s0 + i] = int(x1[i])
                    trace.append(dict(_step_record("denoise", s0, masked, x1, x1p, shifted, chosen, threshold,
                                                   "threshold" if high else "argmax_only", 1, margin),
                                      n_above_threshold=len(high)))
        ids = x
    if stop_token in ids[P0:]:
        ids = ids[:P0 + ids[P0:].index(stop_token) + 1]
    return ids, fw, trace


# --------------------------------------------------------------------------------------
# LLaDA2: LLaDA2MoeModelLM.generate, greedy
# --------------------------------------------------------------------------------------

@torch.no_grad()
def llada2_generate(model, inputs, temperature=0.0, block_length=32, steps=32, gen_length=2048, top_p=None,
                    top_k=None, eos_early_stop=False, minimal_topk=1, threshold=0.95, eos_id=156892, mask_id=156895):
    """steps = min(steps, gen_length // minimal_topk); canvas of ceil((P + gen_length) / B) blocks, prompt
    then mask_id; blocks P // B .. end in order, each in at most `steps` iterations: stop the block if it
    has no mask; one forward of the whole canvas prefix up to the block's end (block-causal, no cache),
    the block's rows; k = get_num_transfer_tokens(B, steps)[step]; commit every masked position with
    confidence > threshold if there are >= k of them, else the min(k, #masked) masked positions of
    highest confidence. eos_early_stop: if a committed token is eos_id, find the first eos_id in the
    canvas prefix (from position 0) and if no mask lies between P and it, RETURN canvas[:eos + 1]
    (prompt included). After each block: stop if eos_id occurs in canvas[P:block end] (also without
    eos_early_stop). Normal return: canvas[P : P + gen_length] cut after its first eos_id (inclusive),
    i.e. the answer only. Returns (returned ids, how ('early_stop' | 'normal'), forwards, trace)."""
    assert temperature == 0 and top_p is None and top_k is None, "greedy only"
    steps = min(steps, gen_length // minimal_topk)
    P, B = len(inputs), block_length
    num_blocks = (P + gen_length + B - 1) // B
    x = list(inputs) + [mask_id] * (num_blocks * B - P)
    sched = get_num_transfer_tokens(B, steps)
    fw = {"denoise": 0}
    trace = []
    for nb in range(P // B, num_blocks):
        lo, hi = nb * B, (nb + 1) * B
        for step in range(steps):
            masked = [i for i in range(B) if x[lo + i] == mask_id]
            if not masked:
                break
            logits = model.logits(x[:hi], B)[lo:hi]
            fw["denoise"] += 1
            toks, confs, _ = greedy(logits)
            conf = [float(confs[i]) if i in masked else float("-inf") for i in range(B)]
            k = sched[step]
            high = [i for i in masked if conf[i] > threshold]
            margin = float("inf")
            if len(high) >= k:
                chosen, branch = high, "threshold"
            else:
                chosen, margin = _topk_positions(conf, min(k, len(masked)))
                branch = "topk"
            for i in chosen:
                x[lo + i] = int(toks[i])
            trace.append(dict(_step_record("denoise", lo, masked, toks, confs, logits, chosen, threshold, branch, k,
                                           margin), block=nb, step=step))
            if eos_early_stop and any(int(toks[i]) == eos_id for i in chosen):
                e = x[:hi].index(eos_id)
                if all(t != mask_id for t in x[P:e]):
                    return x[:e + 1], "early_stop", fw, trace
        if eos_id is not None and eos_id in x[P:hi]:
            break
    ans = x[P:P + gen_length]
    if eos_id in ans:
        ans = ans[:ans.index(eos_id) + 1]
    return ans, "normal", fw, trace
