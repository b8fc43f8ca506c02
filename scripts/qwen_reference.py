#!/usr/bin/python3
"""Independent PyTorch reference for the Qwen2 lineage: Qwen2 / Qwen2.5 (Qwen2ForCausalLM),
Qwen3 (Qwen3ForCausalLM) and Dream (DreamModel), used to make goldens.

Written from the public modelling code, not imported from it (transformers is not installed):
  - transformers configuration_qwen2.py / configuration_qwen3.py: field names and the defaults of
    absent fields (resolve_config);
  - transformers modeling_qwen2.py / modeling_qwen3.py: the pre-norm block, q/k/v biases (Qwen2:
    always, no o_proj bias; Qwen3: attention_bias on q/k/v/o), Qwen3's q_norm/k_norm (RMSNorm over
    each head's head_dim values after the projection, before RoPE), head_dim (Qwen3: explicit,
    default 128), rotate-half RoPE with inv_freq = 1 / theta^(arange(0, hd, 2) / hd) in float32,
    scores scaled by head_dim^-0.5, causal attention;
  - DreamLM/Dream configuration_dream.py / modeling_dream.py / generation_utils.py: the Qwen2 block
    with bidirectional attention, head_dim = hidden / heads, logits shifted right by one
    (cat([logits[:, :1], logits[:, :-1]])), and the _sample loop (maskgit_plus, linear timesteps).

Everything runs in float32 on the weights as stored (BF16/F16 widened). safetensors I/O and the
checkpoint writer are shared with llada_reference.py (file format only).

Run with /usr/bin/python3 (torch 1.13 CPU).
"""
import math

import torch
import torch.nn.functional as F

import llada_reference as R  # safetensors I/O and sharded checkpoint writer

# --------------------------------------------------------------------------------------
# config.json dialects
# --------------------------------------------------------------------------------------

# Qwen2Config's keyword defaults (configuration_qwen2.py); Qwen3Config and DreamConfig copy them.
QWEN2_DEFAULTS = {
    "vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 22016, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 32, "hidden_act": "silu",
    "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "tie_word_embeddings": False,
    "rope_theta": 10000.0, "rope_scaling": None, "use_sliding_window": False, "sliding_window": 4096,
    "max_window_layers": 28, "bos_token_id": None, "eos_token_id": None, "pad_token_id": None,
}

FAMILIES = {
    # architecture: model_type, extra defaults, and what the modelling code does
    "Qwen2ForCausalLM": {"model_type": "qwen2", "defaults": {}, "head_dim": "getattr",
                         "bias": "qkv", "qk_norm": False, "causal": True, "shift": False},
    "Qwen3ForCausalLM": {"model_type": "qwen3", "defaults": {"head_dim": 128, "attention_bias": False},
                         "head_dim": "getattr", "bias": "attention_bias", "qk_norm": True,
                         "causal": True, "shift": False},
    "DreamModel": {"model_type": "Dream", "defaults": {"mask_token_id": 151666, "pad_token_id": 151643},
                   "head_dim": "derived", "bias": "qkv", "qk_norm": False, "causal": False, "shift": True},
}


def resolve_config(cfg):
    """The effective hyper-parameters of a config.json dict, as the Python config class and the
    modelling code see them. Refuses what this reference does not implement."""
    arch = cfg["architectures"][0]
    fam = FAMILIES[arch]
    assert cfg.get("model_type", fam["model_type"]) == fam["model_type"]
    d = dict(QWEN2_DEFAULTS)
    d.update(fam["defaults"])
    d.update(cfg)
    if "num_key_value_heads" in cfg and cfg["num_key_value_heads"] is None:
        d["num_key_value_heads"] = d["num_attention_heads"]
    theta = d["rope_theta"]
    for field in ("rope_scaling", "rope_parameters"):
        rs = d.get(field)
        if rs is not None:
            assert rs.get("rope_type", rs.get("type", "default")) == "default", field
            if field == "rope_parameters" and "rope_theta" in rs:
                theta = rs["rope_theta"]
    assert d["hidden_act"] == "silu"
    assert not d["use_sliding_window"] or d["max_window_layers"] >= d["num_hidden_layers"]
    derived = d["hidden_size"] // d["num_attention_heads"]
    if fam["head_dim"] == "getattr":
        hd = d.get("head_dim") or derived
    else:
        hd = derived
    bias_qkv = fam["bias"] == "qkv" or bool(d.get("attention_bias", False))
    bias_o = fam["bias"] == "attention_bias" and bool(d.get("attention_bias", False))
    eos = d["eos_token_id"]
    return {
        "architecture": arch, "vocab_size": d["vocab_size"], "hidden_size": d["hidden_size"],
        "intermediate_size": d["intermediate_size"], "num_hidden_layers": d["num_hidden_layers"],
        "num_attention_heads": d["num_attention_heads"], "num_key_value_heads": d["num_key_value_heads"],
        "head_dim": hd, "rope_theta": float(theta), "rms_norm_eps": d["rms_norm_eps"],
        "max_position_embeddings": d["max_position_embeddings"],
        "tie_word_embeddings": d["tie_word_embeddings"], "bias_qkv": bias_qkv, "bias_o": bias_o,
        "qk_norm": fam["qk_norm"], "causal": fam["causal"], "shift_logits": fam["shift"],
        "bos_token_id": d["bos_token_id"], "eos_token_id": eos[0] if isinstance(eos, list) else eos,
        "pad_token_id": d["pad_token_id"], "mask_token_id": d.get("mask_token_id"),
    }


def tensor_names(rc):
    """Every tensor name of the Qwen2ForCausalLM layout for a resolved config."""
    names = ["model.embed_tokens.weight", "model.norm.weight"]
    if not rc["tie_word_embeddings"]:
        names.append("lm_head.weight")
    for i in range(rc["num_hidden_layers"]):
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


# --------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------

def rms_norm(x, w, eps):
    """Qwen2RMSNorm / Qwen3RMSNorm in float32: w * (x * rsqrt(mean(x^2, -1) + eps))."""
    x = x.to(torch.float32)
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rope_cos_sin(seq_len, hd, theta):
    """Default RoPE: inv_freq = 1 / theta^(arange(0, hd, 2) / hd) in float32, freqs = pos * inv_freq,
    emb = cat(freqs, freqs) (rotate-half layout)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).to(torch.float32) / hd))
    pos = torch.arange(seq_len, dtype=torch.float32)
    freqs = pos[:, None] * inv_freq[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class QwenRef:
    """float32 forward of a resolved config (resolve_config) over weights name -> tensor."""

    def __init__(self, rc, weights):
        self.rc = rc
        self.w = {k: v.to(torch.float32).contiguous() for k, v in weights.items()}
        assert sorted(self.w) == sorted(tensor_names(rc)), "tensor names differ from the layout"
        self.head = self.w["model.embed_tokens.weight" if rc["tie_word_embeddings"] else "lm_head.weight"]
        self.mask_id = rc["mask_token_id"]

    def forward(self, ids, attention_mask=None):
        """ids (B, L); attention_mask (B, L) with 0 for padding keys. Positions are 0..L-1 in every
        row (position_ids = cache_position when none are given). Returns logits (B, L, V); Dream's
        are shifted right by one."""
        rc, w = self.rc, self.w
        ids = torch.as_tensor(ids, dtype=torch.int64)
        B, L = ids.shape
        nh, nkv, hd, eps = rc["num_attention_heads"], rc["num_key_value_heads"], rc["head_dim"], rc["rms_norm_eps"]
        x = w["model.embed_tokens.weight"][ids]
        cos, sin = rope_cos_sin(L, hd, rc["rope_theta"])
        allowed = torch.ones(B, 1, L, L, dtype=torch.bool)
        if rc["causal"]:
            allowed = allowed & torch.ones(L, L, dtype=torch.bool).tril()[None, None]
        if attention_mask is not None:
            allowed = allowed & torch.as_tensor(attention_mask).to(torch.bool)[:, None, None, :]

        def lin(h, name):
            y = h @ w[name + ".weight"].T
            return y + w[name + ".bias"] if name + ".bias" in w else y

        for i in range(rc["num_hidden_layers"]):
            p = "model.layers.%d." % i
            h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
            q = lin(h, p + "self_attn.q_proj").view(B, L, nh, hd)
            k = lin(h, p + "self_attn.k_proj").view(B, L, nkv, hd)
            v = lin(h, p + "self_attn.v_proj").view(B, L, nkv, hd)
            if rc["qk_norm"]:  # Qwen3: per head, before RoPE
                q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
                k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(nh // nkv, dim=1)  # repeat_kv: query head j uses kv head j // group
            v = v.repeat_interleave(nh // nkv, dim=1)
            s = (q @ k.transpose(-1, -2)) * hd ** -0.5
            s = s.masked_fill(~allowed, float("-inf"))
            a = torch.softmax(s, dim=-1)
            o = (a @ v).transpose(1, 2).reshape(B, L, nh * hd)
            x = x + lin(o, p + "self_attn.o_proj")
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
            g = F.silu(h @ w[p + "mlp.gate_proj.weight"].T) * (h @ w[p + "mlp.up_proj.weight"].T)
            x = x + g @ w[p + "mlp.down_proj.weight"].T
        logits = rms_norm(x, w["model.norm.weight"], eps) @ self.head.T
        if rc["shift_logits"]:
            logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
        return logits

    __call__ = forward


# --------------------------------------------------------------------------------------
# Dream generation (generation_utils.py _sample, greedy maskgit_plus)
# --------------------------------------------------------------------------------------

@torch.no_grad()
def dream_generate(model, prompt_ids, gen_length, steps, eps=1e-3, mask_id=None):
    """Batch 1, temperature 0, alg maskgit_plus, alg_temp 0: at step i with timesteps
    t = linspace(1, eps, steps + 1), commit int(M * (1 - t[i+1] / t[i])) (all M at the last step) of
    the M masked positions, those whose greedy token has the highest softmax probability (float32).
    Returns (canvas, trace) with one trace entry per step: count, committed positions (ascending),
    their tokens, the top-k margin (k-th minus (k+1)-th confidence) and the smallest top1-top2
    logit gap over the masked positions."""
    mask_id = model.mask_id if mask_id is None else mask_id
    x = torch.full((1, len(prompt_ids) + gen_length), mask_id, dtype=torch.int64)
    x[0, :len(prompt_ids)] = torch.as_tensor(prompt_ids)
    timesteps = torch.linspace(1, eps, steps + 1)
    trace = []
    for i in range(steps):
        mask_index = x == mask_id
        logits = model(x)
        mask_logits = logits[mask_index]
        t, s = timesteps[i], timesteps[i + 1]
        probs = torch.softmax(mask_logits, dim=-1)
        confidence, x0 = probs.max(dim=-1)
        num_mask_token = mask_index.sum() / mask_index.shape[0]
        k = int(num_mask_token * (1 - s / t)) if i < steps - 1 else int(num_mask_token)
        full = torch.full_like(x, float("-inf"), dtype=logits.dtype)
        full[mask_index] = confidence
        top2 = torch.topk(mask_logits.double(), 2, dim=-1).values
        gap = float((top2[:, 0] - top2[:, 1]).min())
        cs = torch.sort(full[0].double(), descending=True).values
        margin = float(cs[k - 1] - cs[k]) if 0 < k < cs.numel() and torch.isfinite(cs[k]) else float("inf")
        positions = []
        if k > 0:
            _, sel = torch.topk(full, k)
            x_ = torch.zeros_like(x) + mask_id
            x_[mask_index] = x0.clone()
            x[0, sel[0]] = x_[0, sel[0]]
            positions = sorted(int(j) for j in sel[0])
        trace.append({"step": i, "count": k, "positions": positions,
                      "tokens": [int(x[0, j]) for j in positions],
                      "topk_margin": margin, "argmax_gap": gap})
    return [int(t) for t in x[0]], trace
