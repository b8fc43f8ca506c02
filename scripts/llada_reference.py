#!/usr/bin/python3
"""Independent PyTorch reference for LLaDA (masked diffusion LM), used to make goldens.

Written from /work/shared/reference/llada.md (checkpoint layout, forward pass, generate()
semantics). Self-contained: safetensors is read and written by hand, the model is plain
torch tensor code computed in float32, generation follows the reference generate.py
semantics (transfer schedule, CFG, Gumbel noise in float64, low_confidence / random
remasking).

Run with /usr/bin/python3 (torch 1.13 CPU).
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

# --------------------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------------------

_ELEM_SIZE = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4}


def tensor_to_bytes(t, dtype):
    """Raw little-endian bytes of tensor `t` stored as `dtype` (F32 / F16 / BF16 / I64 / I32).

    BF16 is the upper 16 bits of the f32 after round-to-nearest-even, which is what
    torch's .to(torch.bfloat16) does; we take its bit pattern through an int16 view.
    """
    t = t.detach().contiguous().cpu()
    if dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4").tobytes()
    if dtype == "F16":
        return t.to(torch.float32).to(torch.float16).numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        bits = t.to(torch.float32).to(torch.bfloat16).view(torch.int16)
        return bits.numpy().astype("<i2").tobytes()
    if dtype == "I64":
        return t.to(torch.int64).numpy().astype("<i8").tobytes()
    if dtype == "I32":
        return t.to(torch.int32).numpy().astype("<i4").tobytes()
    raise ValueError("unsupported dtype " + dtype)


def bytes_to_tensor(buf, dtype, shape):
    """Inverse of tensor_to_bytes. Floats are widened to float32 (BF16 by a 16-bit shift)."""
    n = int(np.prod(shape)) if len(shape) else 1
    if dtype == "F32":
        a = np.frombuffer(buf, dtype="<f4", count=n).astype(np.float32)
    elif dtype == "F16":
        a = np.frombuffer(buf, dtype="<f2", count=n).astype(np.float32)
    elif dtype == "BF16":
        u = np.frombuffer(buf, dtype="<u2", count=n).astype(np.uint32) << 16
        a = u.view(np.float32)
    elif dtype == "I64":
        a = np.frombuffer(buf, dtype="<i8", count=n).astype(np.int64)
    elif dtype == "I32":
        a = np.frombuffer(buf, dtype="<i4", count=n).astype(np.int32)
    else:
        raise ValueError("unsupported dtype " + dtype)
    return torch.from_numpy(a.copy()).reshape(shape)


def save_safetensors(path, tensors, dtype, metadata=None):
    """Write `tensors` (name -> torch tensor) to `path`.

    dtype: a string used for all tensors, or a dict name -> dtype string.
    Layout: u64 LE header length N; N bytes of JSON (keys sorted, '__metadata__' first when
    given), padded with spaces so the data starts at an 8-byte boundary; then the tensors'
    raw data back to back in sorted-name order, offsets relative to the end of the header.
    """
    names = sorted(tensors)
    header = {}
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks = []
    off = 0
    for name in names:
        dt = dtype[name] if isinstance(dtype, dict) else dtype
        b = tensor_to_bytes(tensors[name], dt)
        assert len(b) == _ELEM_SIZE[dt] * tensors[name].numel()
        header[name] = {"dtype": dt, "shape": list(tensors[name].shape),
                        "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (8 - len(hjson) % 8) % 8
    hjson += b" " * pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in chunks:
            f.write(b)
    return off  # bytes of tensor data


def read_safetensors(path):
    """Read a safetensors file. Returns (tensors: name -> float32/int tensor,
    info: name -> {dtype, shape, raw: bytes}, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    meta = header.pop("__metadata__", None)
    tensors, info = {}, {}
    for name, h in header.items():
        b0, b1 = h["data_offsets"]
        raw = data[base + b0: base + b1]
        assert len(raw) == _ELEM_SIZE[h["dtype"]] * (int(np.prod(h["shape"])) if h["shape"] else 1)
        tensors[name] = bytes_to_tensor(raw, h["dtype"], h["shape"])
        info[name] = {"dtype": h["dtype"], "shape": h["shape"], "raw": raw}
    return tensors, info, meta


# --------------------------------------------------------------------------------------
# checkpoint directories
# --------------------------------------------------------------------------------------

def tensor_names(cfg):
    names = ["model.transformer.wte.weight", "model.transformer.ln_f.weight"]
    if not cfg.get("weight_tying", False):
        names.append("model.transformer.ff_out.weight")
    for i in range(cfg["n_layers"]):
        for p in ("attn_norm", "q_proj", "k_proj", "v_proj", "attn_out",
                  "ff_norm", "ff_proj", "up_proj", "ff_out"):
            names.append("model.transformer.blocks.%d.%s.weight" % (i, p))
    return names


def save_checkpoint(dirpath, cfg, weights, dtype, shards=1):
    """Write config.json plus model.safetensors (shards == 1) or model-0000i-of-0000n
    shards with model.safetensors.index.json."""
    os.makedirs(dirpath, exist_ok=True)
    with open(os.path.join(dirpath, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    names = sorted(weights)
    if shards == 1:
        save_safetensors(os.path.join(dirpath, "model.safetensors"), weights, dtype,
                         metadata={"format": "pt"})
        return
    # split into `shards` groups of roughly equal byte size, keeping sorted order
    sizes = [weights[n].numel() * _ELEM_SIZE[dtype] for n in names]
    total = sum(sizes)
    groups = [[] for _ in range(shards)]
    acc = 0
    for n, s in zip(names, sizes):
        g = min(shards - 1, int(acc * shards // total))
        groups[g].append(n)
        acc += s
    weight_map = {}
    for gi, g in enumerate(groups):
        fname = "model-%05d-of-%05d.safetensors" % (gi + 1, shards)
        save_safetensors(os.path.join(dirpath, fname), {n: weights[n] for n in g}, dtype,
                         metadata={"format": "pt"})
        for n in g:
            weight_map[n] = fname
    index = {"metadata": {"total_size": total},
             "weight_map": {n: weight_map[n] for n in sorted(weight_map)}}
    with open(os.path.join(dirpath, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")


def load_checkpoint(dirpath):
    """Returns (cfg, weights name -> float32 tensor, info name -> {dtype, shape, raw, file})."""
    with open(os.path.join(dirpath, "config.json")) as f:
        cfg = json.load(f)
    idx = os.path.join(dirpath, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    weights, info = {}, {}
    for fn in files:
        t, i, _ = read_safetensors(os.path.join(dirpath, fn))
        for k in t:
            assert k not in weights, "duplicate tensor " + k
            weights[k] = t[k].to(torch.float32)
            info[k] = dict(i[k], file=fn)
    return cfg, weights, info


# --------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------

def rms_norm(x, w, eps):
    # x * rsqrt(mean(x^2) + eps) * w, in float32
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(seq_len, hd, theta, dtype=torch.float32):
    """cos/sin tables (L, hd) for rotate-half RoPE: inv_freq_j = theta^(-2j/hd), the
    angle for dims j and j+hd/2 is pos * inv_freq_j."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    pos = torch.arange(seq_len, dtype=torch.float32)
    ang = pos[:, None] * inv_freq[None, :]  # (L, hd/2)
    ang = torch.cat([ang, ang], dim=-1)      # (L, hd)
    return ang.cos().to(dtype), ang.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class LladaRef:
    """float32 LLaDA forward pass. weights: name -> tensor (already widened to float32)."""

    def __init__(self, cfg, weights):
        self.cfg = cfg
        self.w = {k: v.to(torch.float32).contiguous() for k, v in weights.items()}
        self.d = cfg["d_model"]
        self.nh = cfg["n_heads"]
        self.nkv = cfg.get("n_kv_heads") or self.nh
        assert self.nh % self.nkv == 0
        self.hd = self.d // self.nh
        self.eps = cfg.get("rms_norm_eps", 1e-5)
        self.theta = cfg.get("rope_theta", 10000.0)
        assert cfg.get("rope", True)
        assert not cfg.get("include_bias", False) and not cfg.get("include_qkv_bias", False)
        assert not cfg.get("scale_logits", False) and not cfg.get("input_emb_norm", False)
        self.mask_id = cfg.get("mask_token_id", 126336)
        if cfg.get("weight_tying", False):
            self.head = self.w["model.transformer.wte.weight"]
        else:
            self.head = self.w["model.transformer.ff_out.weight"]

    def forward(self, ids, attention_mask=None):
        """ids: (B, L) int64. attention_mask: optional (B, L), 1 = real token, 0 = padding
        (masked as a KEY only; positions stay 0..L-1). Returns float32 logits (B, L, V)."""
        P = "model.transformer."
        w = self.w
        ids = torch.as_tensor(ids, dtype=torch.int64)
        B, L = ids.shape
        nh, nkv, hd = self.nh, self.nkv, self.hd
        x = w[P + "wte.weight"][ids]  # (B, L, D)
        cos, sin = rope_tables(L, hd, self.theta)
        key_ok = None
        if attention_mask is not None:
            key_ok = torch.as_tensor(attention_mask).to(torch.bool)[:, None, None, :]
        for i in range(self.cfg["n_layers"]):
            b = P + "blocks.%d." % i
            h = rms_norm(x, w[b + "attn_norm.weight"], self.eps)
            q = (h @ w[b + "q_proj.weight"].T).view(B, L, nh, hd).transpose(1, 2)
            k = (h @ w[b + "k_proj.weight"].T).view(B, L, nkv, hd).transpose(1, 2)
            v = (h @ w[b + "v_proj.weight"].T).view(B, L, nkv, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if nkv != nh:  # query head j uses kv head j // (nh / nkv)
                k = k.repeat_interleave(nh // nkv, dim=1)
                v = v.repeat_interleave(nh // nkv, dim=1)
            s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)  # (B, nh, L, L), no causal mask
            if key_ok is not None:
                s = s.masked_fill(~key_ok, float("-inf"))
            a = torch.softmax(s, dim=-1)
            o = (a @ v).transpose(1, 2).reshape(B, L, nh * hd)
            x = x + o @ w[b + "attn_out.weight"].T
            h = rms_norm(x, w[b + "ff_norm.weight"], self.eps)
            g = F.silu(h @ w[b + "ff_proj.weight"].T) * (h @ w[b + "up_proj.weight"].T)
            x = x + g @ w[b + "ff_out.weight"].T
        x = rms_norm(x, w[P + "ln_f.weight"], self.eps)
        return x @ self.head.T

    __call__ = forward


# --------------------------------------------------------------------------------------
# generation (generate.py semantics)
# --------------------------------------------------------------------------------------

def transfer_schedule(n_masked, steps):
    """Tokens to commit at each of `steps` steps for a block with n_masked masked tokens."""
    base, rem = divmod(int(n_masked), int(steps))
    return [base + (1 if s < rem else 0) for s in range(steps)]


@torch.no_grad()
def generate(model, prompt_ids, steps=128, gen_length=128, block_length=128, temperature=0.0,
             cfg_scale=0.0, remasking="low_confidence", mask_id=None, generator=None,
             trace=True):
    """Batch size 1. Returns (canvas list[int], trace dict).

    With trace=False only the transfer counts are recorded (no per-step entries, no
    conditioning measures: the timing path).
    trace["steps"]: one entry per step with block, step, count, the committed positions
    (ascending), their tokens, the top-k margin (k-th minus (k+1)-th confidence, float64,
    null/inf when there is no (k+1)-th finite candidate) and the smallest top1-top2 logit
    gap among the masked positions of the current block (greedy choice conditioning).
    """
    if mask_id is None:
        mask_id = model.mask_id
    prompt = torch.as_tensor(prompt_ids, dtype=torch.int64).view(1, -1)
    Lp = prompt.shape[1]
    x = torch.full((1, Lp + gen_length), mask_id, dtype=torch.int64)
    x[:, :Lp] = prompt
    prompt_index = x != mask_id  # fixed at the start (a mask inside the prompt is not "prompt")
    assert gen_length % block_length == 0
    num_blocks = gen_length // block_length
    assert steps % num_blocks == 0
    spb = steps // num_blocks
    tr = {"steps": [], "transfer_counts": []}
    for nb in range(num_blocks):
        b0 = Lp + nb * block_length
        b1 = Lp + (nb + 1) * block_length
        n_masked = int((x[0, b0:b1] == mask_id).sum())
        counts = transfer_schedule(n_masked, spb)
        tr["transfer_counts"].append(counts)
        for s in range(spb):
            mask_index = x == mask_id
            if cfg_scale > 0.0:
                un_x = x.clone()
                un_x[prompt_index] = mask_id
                both = model(torch.cat([x, un_x], dim=0))
                c, u = both[0:1], both[1:2]
                logits = u + (cfg_scale + 1.0) * (c - u)
            else:
                logits = model(x)
            if temperature > 0.0:
                l64 = logits.to(torch.float64)
                noise = torch.rand(l64.shape, dtype=torch.float64, generator=generator)
                x0 = torch.argmax(l64.exp() / (-torch.log(noise)) ** temperature, dim=-1)
            else:
                x0 = torch.argmax(logits, dim=-1)
            if remasking == "low_confidence":
                p = torch.softmax(logits.to(torch.float64), dim=-1)
                x0_p = torch.gather(p, -1, x0.unsqueeze(-1)).squeeze(-1)
            elif remasking == "random":
                x0_p = torch.rand(x0.shape, dtype=torch.float32, generator=generator).to(torch.float64)
            else:
                raise ValueError(remasking)
            x0_p[:, b1:] = float("-inf")
            x0 = torch.where(mask_index, x0, x)
            conf = torch.where(mask_index, x0_p, torch.full_like(x0_p, float("-inf")))
            k = counts[s]
            _, sel = torch.topk(conf[0], k=k)
            sel_sorted = sorted(int(i) for i in sel)
            margin = gap = float("inf")
            if trace:
                # conditioning measures
                cs = torch.sort(conf[0], descending=True).values
                if k < cs.numel() and k > 0 and torch.isfinite(cs[k]):
                    margin = float(cs[k - 1] - cs[k])
                else:
                    margin = float("inf")
                cand = mask_index[0].clone()
                cand[b1:] = False
                if cand.any():
                    top2 = torch.topk(logits[0][cand].to(torch.float64), 2, dim=-1).values
                    gap = float((top2[:, 0] - top2[:, 1]).min())
                else:
                    gap = float("inf")
            x[0, sel] = x0[0, sel]
            if trace:
                tr["steps"].append({
                    "block": nb, "step": s, "count": k, "positions": sel_sorted,
                    "tokens": [int(x[0, i]) for i in sel_sorted],
                    "topk_margin": margin, "argmax_gap": gap,
                })
    return [int(t) for t in x[0]], tr


# --------------------------------------------------------------------------------------
# random checkpoints
# --------------------------------------------------------------------------------------

def llada_config(d_model, n_heads, n_kv_heads, n_layers, mlp_hidden_size, vocab_size,
                 weight_tying=False, rope_theta=10000.0, max_sequence_length=256,
                 eos_token_id=None, mask_token_id=None):
    """A config.json dict with the real LLaDA field names."""
    if eos_token_id is None:
        eos_token_id = vocab_size - 2
    if mask_token_id is None:
        mask_token_id = vocab_size - 1
    return {
        "architectures": ["LLaDAModelLM"],
        "model_type": "llada",
        "block_type": "llama",
        "d_model": d_model,
        "n_heads": n_heads,
        "n_kv_heads": n_kv_heads,
        "n_layers": n_layers,
        "mlp_hidden_size": mlp_hidden_size,
        "mlp_ratio": mlp_hidden_size // d_model,
        "vocab_size": vocab_size,
        "embedding_size": vocab_size,
        "rope": True,
        "rope_theta": rope_theta,
        "max_sequence_length": max_sequence_length,
        "activation_type": "silu",
        "layer_norm_type": "rms",
        "rms_norm_eps": 1e-5,
        "include_bias": False,
        "include_qkv_bias": False,
        "weight_tying": weight_tying,
        "scale_logits": False,
        "input_emb_norm": False,
        "eos_token_id": eos_token_id,
        "pad_token_id": eos_token_id,
        "mask_token_id": mask_token_id,
    }


def random_weights(cfg, seed, qk_gain=2.0, head_std=None):
    """Random weights that give non-flat logits and attention that matters.

    Linear layers: N(0, gain^2/in_features); q/k get a larger gain so attention scores are
    peaked; embeddings N(0, 1); norm weights U(0.7, 1.3); the head is scaled so logits
    have a standard deviation of about 2-4.
    """
    g = torch.Generator().manual_seed(int(seed))
    d, nh = cfg["d_model"], cfg["n_heads"]
    nkv = cfg.get("n_kv_heads") or nh
    hd = d // nh
    m, V = cfg["mlp_hidden_size"], cfg["embedding_size"]

    def lin(out_f, in_f, gain=1.0):
        return torch.randn(out_f, in_f, generator=g) * (gain / math.sqrt(in_f))

    def norm(n):
        return 0.7 + 0.6 * torch.rand(n, generator=g)

    P = "model.transformer."
    w = {P + "wte.weight": torch.randn(V, d, generator=g)}
    for i in range(cfg["n_layers"]):
        b = P + "blocks.%d." % i
        w[b + "attn_norm.weight"] = norm(d)
        w[b + "q_proj.weight"] = lin(nh * hd, d, qk_gain)
        w[b + "k_proj.weight"] = lin(nkv * hd, d, qk_gain)
        w[b + "v_proj.weight"] = lin(nkv * hd, d, 1.0)
        w[b + "attn_out.weight"] = lin(d, nh * hd, 1.0)
        w[b + "ff_norm.weight"] = norm(d)
        w[b + "ff_proj.weight"] = lin(m, d, 1.5)
        w[b + "up_proj.weight"] = lin(m, d, 1.5)
        w[b + "ff_out.weight"] = lin(d, m, 1.0)
    w[P + "ln_f.weight"] = norm(d)
    if head_std is None:
        head_std = 2.5 / math.sqrt(d)
    # Each position is pulled towards predicting its own input token (a tied head does this
    # by construction; the untied head gets the embedding mixed in) - this keeps greedy
    # outputs of these random models from collapsing onto one or two attractor tokens.
    # The mask token's head row is shrunk so it is (practically) never the argmax at mask
    # positions (predicting the mask token itself is legal upstream but a corner case).
    mid = cfg.get("mask_token_id")
    if cfg.get("weight_tying", False):
        w[P + "wte.weight"] = w[P + "wte.weight"] * head_std
        if mid is not None and 0 <= mid < V:
            w[P + "wte.weight"][mid] *= 0.25
    else:
        w[P + "ff_out.weight"] = (torch.randn(V, d, generator=g) + w[P + "wte.weight"]) * head_std
        if mid is not None and 0 <= mid < V:
            w[P + "ff_out.weight"][mid] *= 0.25
    assert sorted(w) == sorted(tensor_names(cfg))
    return w


def count_params(weights):
    return int(sum(t.numel() for t in weights.values()))
