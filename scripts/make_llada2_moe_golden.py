#!/usr/bin/python3
"""Golden for the LLaDA2.x MoE router (RouterScoring.Llada2Sigmoid) into tests/golden/llada2-moe/golden.json.

    /usr/bin/python3 scripts/make_llada2_moe_golden.py

One tiny random MoE layer (d 16, 8 experts in 4 groups, topk_group 2, top-2, expert bias,
routed_scaling_factor 2.5, one shared expert of moe_intermediate_size 8), N input rows, and what
scripts/llada2_moe_reference.py gives: chosen experts (in order), their weights, the block output.
Deterministic (fixed seed). Self-checks: a naive float64 per-token loop agrees on every decision and on
the outputs; every group choice and every expert choice has a margin of at least MIN_MARGIN (rows
re-drawn otherwise); the expert bias and the group limit each change some decisions.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llada2_moe_reference as R  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "golden", "llada2-moe")
MIN_MARGIN = 1e-4
CFG = dict(hidden_size=16, num_experts=8, n_group=4, topk_group=2, num_experts_per_tok=2,
           moe_intermediate_size=8, num_shared_experts=1, routed_scaling_factor=2.5, norm_topk_prob=True)
N = 40


def naive(h, p, cfg):
    """float64, one token at a time, explicit sorts (independent of the vectorised reference)."""
    h = h.double()
    E, G, K = cfg["num_experts"], cfg["n_group"], cfg["num_experts_per_tok"]
    per = E // G
    ys, sels, ws, margins = [], [], [], []
    for t in range(h.shape[0]):
        s = [1 / (1 + torch.exp(-(p["router"][e].double() @ h[t]))).item() for e in range(E)]
        b = [s[e] + p["expert_bias"][e].item() for e in range(E)]
        gs = [sum(sorted(b[g * per:(g + 1) * per], reverse=True)[:2]) for g in range(G)]
        gorder = sorted(range(G), key=lambda g: (-gs[g], g))
        keep = gorder[:cfg["topk_group"]]
        allowed = sorted([e for g in keep for e in range(g * per, (g + 1) * per)], key=lambda e: (-b[e], e))
        sel = allowed[:K]
        margins.append(min(gs[gorder[cfg["topk_group"] - 1]] - gs[gorder[cfg["topk_group"]]],
                           b[allowed[K - 1]] - b[allowed[K]], *(b[sel[i]] - b[sel[i + 1]] for i in range(K - 1))))
        w = [s[e] for e in sel]
        tot = sum(w)
        w = [x / tot * cfg["routed_scaling_factor"] for x in w]
        y = torch.zeros(h.shape[1], dtype=torch.float64)
        for e, we in zip(sel, w):
            y += we * R.ffn(h[t], *(m.double() for m in p["experts"][e]))
        y += R.ffn(h[t], *(m.double() for m in p["shared"]))
        ys.append(y); sels.append(sel); ws.append(w)
    return torch.stack(ys), sels, ws, margins


def main():
    g = torch.Generator().manual_seed(20260)
    d, E, F = CFG["hidden_size"], CFG["num_experts"], CFG["moe_intermediate_size"]
    Fs = F * CFG["num_shared_experts"]
    rnd = lambda *shape, scale=1.0: torch.randn(*shape, generator=g) * scale  # noqa: E731
    p = dict(router=rnd(E, d, scale=0.5), expert_bias=rnd(E, scale=0.2),
             experts=[(rnd(F, d, scale=0.4), rnd(F, d, scale=0.4), rnd(d, F, scale=0.4)) for _ in range(E)],
             shared=(rnd(Fs, d, scale=0.4), rnd(Fs, d, scale=0.4), rnd(d, Fs, scale=0.4)))
    rows = []
    while len(rows) < N:   # keep only well-conditioned rows
        h = rnd(1, d)
        if naive(h, p, CFG)[3][0] >= MIN_MARGIN:
            rows.append(h)
    h = torch.cat(rows)
    y, sel, w = R.moe_block(h, p, CFG)
    ny, nsel, nw, margins = naive(h, p, CFG)
    assert sel.tolist() == nsel, "reference and naive loop disagree on a routing decision"
    err_w = (w.double() - torch.tensor(nw)).abs().max().item()
    err_y = ((y.double() - ny).abs().max() / ny.abs().max()).item()
    assert err_w < 1e-5 and err_y < 1e-5, (err_w, err_y)
    # The bias and the group limit must matter.
    no_bias = R.route(h, p["router"], None, CFG["n_group"], CFG["topk_group"], 2, 2.5)[0]
    no_groups = R.route(h, p["router"], p["expert_bias"], 1, 1, 2, 2.5)[0]
    bias_changes = int((no_bias != sel).any(-1).sum())
    group_changes = int((no_groups != sel).any(-1).sum())
    assert bias_changes > 0 and group_changes > 0, (bias_changes, group_changes)

    f = lambda t: [float(v) for v in t.float().reshape(-1).tolist()]  # noqa: E731
    golden = dict(
        format_version=1, generator="scripts/make_llada2_moe_golden.py with scripts/llada2_moe_reference.py",
        torch_version=torch.__version__, config=CFG, tokens=N,
        min_margin=min(margins), rows_changed_by_bias=bias_changes, rows_changed_by_group_limit=group_changes,
        max_abs_weight_diff_vs_float64_naive=err_w, max_rel_output_diff_vs_float64_naive=err_y,
        weights=dict(router=f(p["router"]), expert_bias=f(p["expert_bias"]),
                     experts=[dict(gate=f(a), up=f(b), down=f(c)) for a, b, c in p["experts"]],
                     shared=dict(gate=f(p["shared"][0]), up=f(p["shared"][1]), down=f(p["shared"][2]))),
        input=f(h), selected=sel.reshape(-1).tolist(), routing_weights=f(w), output=f(y))
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "golden.json"), "w") as fh:
        json.dump(golden, fh, indent=None, separators=(",", ":"))
        fh.write("\n")
    print(f"min margin {min(margins):.3e}, bias changes {bias_changes}/{N} rows, group limit changes "
          f"{group_changes}/{N}, |dw| {err_w:.2e}, rel |dy| {err_y:.2e}")


if __name__ == "__main__":
    main()
