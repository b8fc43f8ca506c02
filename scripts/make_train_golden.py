#!/usr/bin/python3
"""PyTorch golden for one masked-diffusion training step of a tiny LLaDA-architecture model.

Writes tests/golden/train/{weights.safetensors, batch.json, grads.safetensors, loss}.
The model is written independently from the C# code from the LLaDA forward pass
(pre-norm Llama block, bidirectional attention, rotate-half RoPE, SwiGLU, RMSNorm) and the
pre-training loss of arXiv 2502.09992 Eq. 3: sum over masked positions of CE / p, divided by B*L.
The mask pattern and p per sequence are fixed in batch.json, so no RNG has to agree across
languages. Weights are stored as F32; the reference computes in float64 from those values.
Run: /usr/bin/python3 scripts/make_train_golden.py
"""
import json
import math
import os
import struct

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "train")
CFG = dict(d_model=16, n_heads=4, n_kv_heads=2, n_layers=2, mlp_hidden_size=24, vocab_size=13,
           max_sequence_length=8, rope_theta=10000.0, rms_norm_eps=1e-5, mask_token_id=12)
P = "model.transformer."


def write_safetensors(path, tensors):
    names = sorted(tensors)
    header, blobs, offset = {}, [], 0
    for n in names:
        data = tensors[n].detach().to(torch.float32).contiguous().numpy().tobytes()
        header[n] = {"dtype": "F32", "shape": list(tensors[n].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make_weights():
    c = CFG
    d, hd = c["d_model"], c["d_model"] // c["n_heads"]
    q, kv, f, v = c["n_heads"] * hd, c["n_kv_heads"] * hd, c["mlp_hidden_size"], c["vocab_size"]
    g = torch.Generator().manual_seed(1234)
    w = {}

    def mat(name, rows, cols, std=0.3):
        w[P + name] = (torch.randn(rows, cols, generator=g) * std).to(torch.float32)

    def norm(name):
        w[P + name] = (1.0 + 0.2 * (torch.rand(d, generator=g) - 0.5)).to(torch.float32)

    mat("wte.weight", v, d, 1.0)
    for i in range(c["n_layers"]):
        b = f"blocks.{i}."
        norm(b + "attn_norm.weight")
        mat(b + "q_proj.weight", q, d)
        mat(b + "k_proj.weight", kv, d)
        mat(b + "v_proj.weight", kv, d)
        mat(b + "attn_out.weight", d, q)
        norm(b + "ff_norm.weight")
        mat(b + "ff_proj.weight", f, d)
        mat(b + "up_proj.weight", f, d)
        mat(b + "ff_out.weight", d, f)
    norm("ln_f.weight")
    mat("ff_out.weight", v, d)
    return w


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, theta):
    # x: [B, L, H, hd]; rotate-half: pairs (j, j + hd/2), angle = pos * theta^(-2j/hd)
    L, hd = x.shape[1], x.shape[3]
    half = hd // 2
    inv = 1.0 / (theta ** (torch.arange(half, dtype=torch.float64) * 2.0 / hd))
    ang = torch.arange(L, dtype=torch.float64)[:, None] * inv[None, :]
    cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def forward_loss(w, tokens, masked, p, clean):
    c = CFG
    B, L = tokens.shape
    d, H, KV = c["d_model"], c["n_heads"], c["n_kv_heads"]
    hd, eps = d // H, c["rms_norm_eps"]
    x = w[P + "wte.weight"][tokens]                                  # [B, L, d]
    for i in range(c["n_layers"]):
        b = P + f"blocks.{i}."
        h = rms_norm(x, w[b + "attn_norm.weight"], eps)
        q = (h @ w[b + "q_proj.weight"].T).view(B, L, H, hd)
        k = (h @ w[b + "k_proj.weight"].T).view(B, L, KV, hd)
        v = (h @ w[b + "v_proj.weight"].T).view(B, L, KV, hd)
        q, k = rope(q, c["rope_theta"]), rope(k, c["rope_theta"])
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)   # [B, heads, L, hd]
        k = k.repeat_interleave(H // KV, dim=1)                             # query head h reads kv head h // group
        v = v.repeat_interleave(H // KV, dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1) @ v   # no causal mask
        x = x + att.transpose(1, 2).reshape(B, L, H * hd) @ w[b + "attn_out.weight"].T
        h = rms_norm(x, w[b + "ff_norm.weight"], eps)
        gate = h @ w[b + "ff_proj.weight"].T
        up = h @ w[b + "up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ w[b + "ff_out.weight"].T
    logits = rms_norm(x, w[P + "ln_f.weight"], eps) @ w[P + "ff_out.weight"].T   # [B, L, V]
    ce = torch.nn.functional.cross_entropy(logits[masked], clean[masked], reduction="none")
    pm = p[:, None].expand(B, L)[masked]
    return (ce / pm).sum() / (B * L)


def main():
    os.makedirs(OUT, exist_ok=True)
    w32 = make_weights()
    write_safetensors(os.path.join(OUT, "weights.safetensors"), w32)
    clean = torch.tensor([[3, 7, 1, 9, 4, 11], [0, 5, 5, 2, 10, 8]])
    masked = torch.tensor([[1, 0, 1, 1, 0, 0], [0, 1, 1, 1, 1, 1]], dtype=torch.bool)
    p = torch.tensor([0.45, 0.9], dtype=torch.float64)
    tokens = torch.where(masked, torch.full_like(clean, CFG["mask_token_id"]), clean)
    w = {n: t.to(torch.float64).requires_grad_(True) for n, t in w32.items()}
    loss = forward_loss(w, tokens, masked, p, clean)
    loss.backward()
    write_safetensors(os.path.join(OUT, "grads.safetensors"), {n: t.grad for n, t in w.items()})
    with open(os.path.join(OUT, "batch.json"), "w") as f:
        json.dump(dict(config=CFG, batch=2, length=6, clean=clean.flatten().tolist(),
                       masked=[int(m) for m in masked.flatten().tolist()], p=p.tolist()), f, indent=1)
    with open(os.path.join(OUT, "loss"), "w") as f:
        f.write(repr(loss.item()) + "\n")
    print("loss", loss.item())


if __name__ == "__main__":
    main()
