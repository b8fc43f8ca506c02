#!/usr/bin/python3
"""PyTorch goldens for the continuous diffusion families: one loss, gradient and SGD step each.

Writes tests/golden/continuous/{diffusion_lm,diffuseq,ssd_lm}/{weights.safetensors, draw.safetensors,
draw.json, grads.safetensors, expected.json}. Written from the papers, independently of the C# code:
  Diffusion-LM (arXiv 2205.14217, L_e2e-simple; sqrt schedule 1 - sqrt(s + 1e-4)): x_start = EMB(w) + s0*eps0,
    x_t = sqrt(ab_t) x_start + sqrt(1 - ab_t) eps, x0 prediction; loss = mse (vs EMB(w) at t = 0) + rounding
    CE(x_start EMB^T, w) + prior |sqrt(ab_{T-1}) x_start|^2, per-sequence means, batch mean.
  DiffuSeq (arXiv 2210.08933): the same with the prompt rows anchored to x_start and the loss on the response.
  SSD-LM (arXiv 2210.17432): w~ = K(2 onehot - 1); block rows S = sqrt(ab_t) w~ + sqrt(1 - ab_t) K eps; input
    softmax(S) EMB; CE of the block; cosine schedule.
Time conditioning: sinusoidal embedding of 1000 t / T added to every input row (improved-diffusion's
timestep_embedding, cos half then sin half). The backbone is the LLaDA block of make_train_golden.py.
The noise and timesteps are written to draw.* so no RNG has to agree across languages; PyTorch computes in
float64 from the F32 weights. Run: /usr/bin/python3 scripts/make_continuous_golden.py
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_train_golden import write_safetensors, rms_norm, rope  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "continuous")
CFG = dict(d_model=8, n_heads=2, n_kv_heads=2, n_layers=1, mlp_hidden_size=16, vocab_size=11,
           max_sequence_length=8, rope_theta=10000.0, rms_norm_eps=1e-5)
P = "model.transformer."
LR = 0.1


def alpha_bar(kind, T):
    f = (lambda s: 1 - math.sqrt(s + 1e-4)) if kind == "sqrt" else \
        (lambda s: math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2)
    out, acc = [], 1.0
    for i in range(T):
        acc *= 1 - min(1 - f((i + 1) / T) / f(i / T), 0.999)
        out.append(acc)
    return torch.tensor(out, dtype=torch.float64)


def time_emb(t, T, d):
    half = d // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half)
    a = (1000.0 * t / T) * freqs
    return torch.cat([torch.cos(a), torch.sin(a)])


def make_weights(tied, seed):
    c, g, w = CFG, torch.Generator().manual_seed(seed), {}
    d, f, v = c["d_model"], c["mlp_hidden_size"], c["vocab_size"]

    def mat(name, rows, cols, std=0.3):
        w[P + name] = (torch.randn(rows, cols, generator=g) * std).to(torch.float32)

    def norm(name):
        w[P + name] = (1.0 + 0.2 * (torch.rand(d, generator=g) - 0.5)).to(torch.float32)

    mat("wte.weight", v, d, 1.0)
    for i in range(c["n_layers"]):
        b = f"blocks.{i}."
        norm(b + "attn_norm.weight")
        for n in ("q_proj", "k_proj", "v_proj", "attn_out"):
            mat(b + n + ".weight", d, d)
        norm(b + "ff_norm.weight")
        mat(b + "ff_proj.weight", f, d)
        mat(b + "up_proj.weight", f, d)
        mat(b + "ff_out.weight", d, f)
    norm("ln_f.weight")
    if not tied:
        mat("ff_out.weight", v, d)
    return w


def backbone(w, x):
    """x: [B, L, d] input vectors -> RMSNorm(final)*ln_f [B, L, d] (bidirectional attention)."""
    c = CFG
    B, L, d = x.shape
    H, eps = c["n_heads"], c["rms_norm_eps"]
    hd = d // H
    for i in range(c["n_layers"]):
        b = P + f"blocks.{i}."
        h = rms_norm(x, w[b + "attn_norm.weight"], eps)
        q = rope((h @ w[b + "q_proj.weight"].T).view(B, L, H, hd), c["rope_theta"]).transpose(1, 2)
        k = rope((h @ w[b + "k_proj.weight"].T).view(B, L, H, hd), c["rope_theta"]).transpose(1, 2)
        v = (h @ w[b + "v_proj.weight"].T).view(B, L, H, hd).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1) @ v
        x = x + att.transpose(1, 2).reshape(B, L, d) @ w[b + "attn_out.weight"].T
        h = rms_norm(x, w[b + "ff_norm.weight"], eps)
        x = x + (torch.nn.functional.silu(h @ w[b + "ff_proj.weight"].T) * (h @ w[b + "up_proj.weight"].T)) @ w[b + "ff_out.weight"].T
    return rms_norm(x, w[P + "ln_f.weight"], eps)


def embedding_loss(w, tokens, noised, t, eps0, eps, ab):
    """Diffusion-LM / DiffuSeq L_e2e-simple; returns (total, mse, rounding, prior)."""
    E = w[P + "wte.weight"]
    B, L = tokens.shape
    d, T = E.shape[1], len(ab)
    mean = E[tokens]                                             # EMB(w)      [B, L, d]
    x_start = mean + math.sqrt(1 - ab[0]) * eps0
    abt = ab[t][:, None, None]
    x_t = torch.where(noised[..., None], abt.sqrt() * x_start + (1 - abt).sqrt() * eps, x_start)
    x_in = x_t + torch.stack([time_emb(float(ti), T, d) for ti in t])[:, None, :]
    x0 = backbone(w, x_in)
    m = noised.to(torch.float64)
    count = m.sum(1)                                             # noised rows per sequence
    target = torch.where((t == 0)[:, None, None], mean, x_start)
    mse = (((x0 - target) ** 2).sum(-1) * m).sum(1) / (count * d)
    prior = (((ab[T - 1].sqrt() * x_start) ** 2).sum(-1) * m).sum(1) / (count * d)
    logits = x_start @ E.T                                       # the tied rounding head
    ce = torch.nn.functional.cross_entropy(logits.reshape(B * L, -1), tokens.reshape(-1), reduction="none").view(B, L)
    rounding = (ce * m).sum(1) / count
    return (mse + rounding + prior).mean(), mse.mean(), rounding.mean(), prior.mean()


def ssd_loss(w, tokens, context, t, eps, ab, K):
    E = w[P + "wte.weight"]
    B, L = tokens.shape
    V, d, T = E.shape[0], E.shape[1], len(ab)
    simplex = K * (2 * torch.nn.functional.one_hot(tokens, V).to(torch.float64) - 1)
    abt = ab[t][:, None, None]
    block = simplex[:, context:]
    noisy = abt.sqrt() * block + (1 - abt).sqrt() * K * eps
    S = torch.cat([simplex[:, :context], noisy], dim=1)
    x_in = torch.softmax(S, -1) @ E + torch.stack([time_emb(float(ti), T, d) for ti in t])[:, None, :]
    logits = backbone(w, x_in)[:, context:] @ w[P + "ff_out.weight"].T
    return torch.nn.functional.cross_entropy(logits.reshape(-1, V), tokens[:, context:].reshape(-1))


def run(name, tied, draw, loss_fn, config_extra):
    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    w32 = make_weights(tied, seed={"diffusion_lm": 11, "diffuseq": 12, "ssd_lm": 13}[name])
    write_safetensors(os.path.join(out, "weights.safetensors"), w32)
    w = {n: t.to(torch.float64).requires_grad_(True) for n, t in w32.items()}
    terms = loss_fn(w)
    loss = terms[0] if isinstance(terms, tuple) else terms
    loss.backward()
    write_safetensors(os.path.join(out, "grads.safetensors"), {n: t.grad for n, t in w.items()})
    with torch.no_grad():
        # One SGD step on the F32 weights (rounded to F32, as the C# parameters are), same draw.
        stepped = {n: (w32[n].to(torch.float64) - LR * w[n].grad).to(torch.float32).to(torch.float64) for n in w}
        after = loss_fn(stepped)
        after = after[0] if isinstance(after, tuple) else after
    expected = dict(loss=loss.item(), loss_after_sgd_step=after.item(), lr=LR)
    if isinstance(terms, tuple):
        expected.update(mse=terms[1].item(), rounding=terms[2].item(), prior=terms[3].item())
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    with open(os.path.join(out, "draw.json"), "w") as f:
        json.dump(dict(config=dict(CFG, **config_extra), **draw["json"]), f, indent=1)
    write_safetensors(os.path.join(out, "draw.safetensors"), draw["tensors"])
    print(name, expected)


def main():
    g = torch.Generator().manual_seed(7)
    B, L, d, V = 2, 5, CFG["d_model"], CFG["vocab_size"]
    T = 10
    ab_sqrt = alpha_bar("sqrt", T)
    tokens = torch.tensor([[3, 7, 1, 9, 4], [0, 5, 5, 2, 10]])
    eps0 = torch.randn(B, L, d, generator=g).to(torch.float32)
    eps = torch.randn(B, L, d, generator=g).to(torch.float32)
    for name, noised, t in (("diffusion_lm", torch.ones(B, L, dtype=torch.bool), torch.tensor([0, 7])),
                            ("diffuseq", torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 1, 1]], dtype=torch.bool), torch.tensor([3, 9]))):
        draw = dict(json=dict(batch=B, length=L, tokens=tokens.flatten().tolist(), noised=[int(x) for x in noised.flatten().tolist()],
                              t=t.tolist()),
                    tensors=dict(eps0=eps0.reshape(B * L, d), eps=eps.reshape(B * L, d)))
        run(name, True, draw,
            lambda w, noised=noised, t=t: embedding_loss(w, tokens, noised, t, eps0.double(), eps.double(), ab_sqrt),
            dict(diffusion_steps=T, noise_schedule="sqrt"))
    ab_cos, K, context = alpha_bar("cosine", T), 5.0, 2
    t = torch.tensor([4, 9])
    seps = torch.randn(B, L - context, V, generator=g).to(torch.float32)
    draw = dict(json=dict(batch=B, length=L, tokens=tokens.flatten().tolist(), context=context, t=t.tolist()),
                tensors=dict(eps=seps.reshape(B * (L - context), V)))
    run("ssd_lm", False, draw, lambda w: ssd_loss(w, tokens, context, t, seps.double(), ab_cos, K),
        dict(diffusion_steps=T, noise_schedule="cosine", simplex_k=K, ssd_block_size=L - context))


if __name__ == "__main__":
    main()
