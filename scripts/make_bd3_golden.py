#!/usr/bin/python3
"""PyTorch golden for one BD3-LM training step (Arriola et al. 2025, arXiv 2503.09573) of the tiny LLaDA model
of make_train_golden.py (same weights, tests/golden/train/weights.safetensors).

Written from the paper's vectorized loss, independently of the C# code: the input is [x_t ; x_0] (2L tokens, both
halves at positions 0..L-1) under the three-part mask of §3.2 — block diagonal within each half's blocks for x_t
(M_BD), x_t block b sees the x_0 blocks before b (M_OBC), x_0 block b sees the x_0 blocks up to b (M_BC) — as an
explicit 2L x 2L boolean matrix. Loss: sum over masked x_t positions of CE / t_block, divided by B*L. The masks and
per-block rates are fixed in batch.json. Writes tests/golden/bd3/{batch.json, grads.safetensors, loss}.
Run: /usr/bin/python3 scripts/make_bd3_golden.py
"""
import json, math, os, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_train_golden import CFG, P, make_weights, rms_norm, write_safetensors

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "bd3")
BLOCK = 2


def bd3_mask(L, B):
    n = 2 * L
    m = torch.zeros(n, n, dtype=torch.bool)
    for q in range(n):
        for k in range(n):
            q0, k0 = q >= L, k >= L
            bq, bk = (q - L if q0 else q) // B, (k - L if k0 else k) // B
            m[q, k] = (bq == bk and q0 == k0) or (bq > bk and k0 and not q0) or (bq >= bk and k0 and q0)
    return m


def rope_at(x, pos, theta):
    hd = x.shape[3]
    half = hd // 2
    inv = 1.0 / (theta ** (torch.arange(half, dtype=torch.float64) * 2.0 / hd))
    ang = pos.to(torch.float64)[:, None] * inv[None, :]
    cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def bd3_loss(w, clean, masked, t):
    c = CFG
    Bt, L = clean.shape
    d, H, KV = c["d_model"], c["n_heads"], c["n_kv_heads"]
    hd, eps = d // H, c["rms_norm_eps"]
    xt = torch.where(masked, torch.full_like(clean, c["mask_token_id"]), clean)
    tokens = torch.cat([xt, clean], dim=1)                            # [B, 2L]
    pos = torch.cat([torch.arange(L), torch.arange(L)])
    allowed = bd3_mask(L, BLOCK)
    x = w[P + "wte.weight"][tokens]
    for i in range(c["n_layers"]):
        b = P + f"blocks.{i}."
        h = rms_norm(x, w[b + "attn_norm.weight"], eps)
        q = (h @ w[b + "q_proj.weight"].T).view(Bt, 2 * L, H, hd)
        k = (h @ w[b + "k_proj.weight"].T).view(Bt, 2 * L, KV, hd)
        v = (h @ w[b + "v_proj.weight"].T).view(Bt, 2 * L, KV, hd)
        q, k = rope_at(q, pos, c["rope_theta"]), rope_at(k, pos, c["rope_theta"])
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        s = (q @ k.transpose(-1, -2) / math.sqrt(hd)).masked_fill(~allowed, float("-inf"))
        att = torch.softmax(s, dim=-1) @ v
        x = x + att.transpose(1, 2).reshape(Bt, 2 * L, H * hd) @ w[b + "attn_out.weight"].T
        h = rms_norm(x, w[b + "ff_norm.weight"], eps)
        x = x + (torch.nn.functional.silu(h @ w[b + "ff_proj.weight"].T) * (h @ w[b + "up_proj.weight"].T)) @ w[b + "ff_out.weight"].T
    logits = rms_norm(x[:, :L], w[P + "ln_f.weight"], eps) @ w[P + "ff_out.weight"].T   # the x_t half
    ce = torch.nn.functional.cross_entropy(logits[masked], clean[masked], reduction="none")
    tb = t.repeat_interleave(BLOCK, dim=1)[masked]
    return (ce / tb).sum() / (Bt * L)


def main():
    os.makedirs(OUT, exist_ok=True)
    w32 = make_weights()
    clean = torch.tensor([[3, 7, 1, 9, 4, 11], [0, 5, 5, 2, 10, 8]])
    masked = torch.tensor([[1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 1, 1]], dtype=torch.bool)
    t = torch.tensor([[0.45, 0.7, 0.3], [0.9, 0.55, 0.65]], dtype=torch.float64)
    w = {n: x.to(torch.float64).requires_grad_(True) for n, x in w32.items()}
    loss = bd3_loss(w, clean, masked, t)
    loss.backward()
    write_safetensors(os.path.join(OUT, "grads.safetensors"), {n: x.grad for n, x in w.items()})
    with open(os.path.join(OUT, "batch.json"), "w") as f:
        json.dump(dict(weights="tests/golden/train/weights.safetensors", block_size=BLOCK, batch=2, length=6,
                       clean=clean.flatten().tolist(), masked=[int(m) for m in masked.flatten().tolist()],
                       t=t.flatten().tolist()), f, indent=1)
    with open(os.path.join(OUT, "loss"), "w") as f:
        f.write(repr(loss.item()) + "\n")
    print("loss", loss.item())


if __name__ == "__main__":
    main()
