#!/usr/bin/python3
"""Build tiny random LLaDA-MoE checkpoints and golden outputs into tests/golden/lladamoe/.

    /usr/bin/python3 scripts/make_moe_golden.py

Deterministic (fixed seeds; the output is byte-identical on re-run). The checkpoints use the
published layout of inclusionAI/LLaDA-MoE-7B-A1B (config.json field names and values of
configuration_lladamoe.py, tensor names of modeling_lladamoe.py's module tree); the forward is
scripts/lladamoe_reference.py. Self-checks: a naive float64 per-token loop implementation
(independent of the vectorised reference: explicit per-key softmax, explicit pair rotation,
per-token sort for the top-k) agrees on logits and every routing decision; every routing
decision has a top-k margin of at least MIN_ROUTING_MARGIN (inputs re-drawn otherwise); the
expert bias changes some decisions; q/k norms change the logits; every checkpoint re-reads
bit-identically through the hand-written safetensors reader.
"""
import json
import math
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llada_reference as R  # noqa: E402
import lladamoe_reference as M  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "golden", "lladamoe")
MIN_ROUTING_MARGIN = 1e-4   # score units: k-th minus (k+1)-th of softmax (+ bias, and without), every token and layer

MODELS = {
    # All MoE layers, no shared expert, no expert bias, no q/k norm, BF16 storage.
    "tiny": dict(seed=4004, dtype="BF16", cfg=dict(
        hidden_size=32, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2,
        moe_layer_freq=[1, 1], num_experts=8, num_experts_per_tok=2, expert_intermediate_size=16,
        dense_intermediate_size=64, vocab_size=61)),
    # A dense first layer, a shared expert, the expert bias, tied head, norm_topk_prob true
    # (ignored by the published block), top-3, F16 storage.
    "tiny-shared": dict(seed=5005, dtype="F16", cfg=dict(
        hidden_size=32, num_attention_heads=4, num_key_value_heads=4, num_hidden_layers=3,
        moe_layer_freq=[0, 1, 1], num_experts=8, num_experts_per_tok=3, expert_intermediate_size=12,
        dense_intermediate_size=48, vocab_size=61, shared_expert_intermediate_size=24,
        expert_bias=True, tie_word_embeddings=True, norm_topk_prob=True, torch_dtype="float16")),
    # As published for the 7B: q/k RMSNorm (qk_layernorm true). Engines without q/k norms refuse it.
    "tiny-qknorm": dict(seed=6006, dtype="BF16", cfg=dict(
        hidden_size=32, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2,
        moe_layer_freq=[1, 1], num_experts=8, num_experts_per_tok=2, expert_intermediate_size=16,
        dense_intermediate_size=64, vocab_size=61, qk_layernorm=True)),
}


def case_inputs(cfg, seed):
    """case0: 1 x 12 with 4 masks; case1: 2 x 10, row 1 left-padded by 3 (attention mask 0);
    case2: 1 x 40, 10 prompt ids then mostly masks."""
    g = torch.Generator().manual_seed(seed)
    V, mask, eos = cfg["vocab_size"], cfg["mask_token_id"], cfg["eos_token_id"]

    def ids(n):
        return torch.randint(0, V - 2, (n,), generator=g)

    c0 = ids(12)
    c0[[2, 5, 6, 10]] = mask
    c1 = torch.stack([ids(10), ids(10)])
    c1[0, [4, 7]] = mask
    c1[1, :3] = eos
    c1[1, [6, 8]] = mask
    am = torch.ones(2, 10, dtype=torch.int64)
    am[1, :3] = 0
    c2 = torch.full((40,), mask, dtype=torch.int64)
    c2[:10] = ids(10)
    c2[[17, 25, 33]] = ids(3)
    return [("case0", "one sequence of 12, 4 masks", c0.view(1, -1), None),
            ("case1", "batch of 2, row 1 left-padded by 3 eos keys (attention_mask 0)", c1, am),
            ("case2", "one sequence of 40: 10 prompt ids, then masks and 3 ids", c2.view(1, -1), None)]


# ------------------------------------------------------------------ naive reference
def naive_forward(cfg, w, ids, attention_mask=None):
    """float64 loops over tokens, heads and dimension pairs; top-k by a per-token sort.
    Returns (logits (B, L, V), [selected (B, L, K) per MoE layer])."""
    W = {k: v.to(torch.float64).numpy() for k, v in w.items()}
    d, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv, E, K = cfg["num_key_value_heads"], cfg["num_experts"], cfg["num_experts_per_tok"]
    hd, half, eps, theta = d // nh, d // nh // 2, cfg["rms_norm_eps"], cfg["rope_theta"]
    ids = np.asarray(ids)
    B, L = ids.shape
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]

    def rms(v, gw):
        return v / math.sqrt(float(np.mean(v * v)) + eps) * gw

    def rope(v, pos):  # rotate-half: pairs (j, j + hd/2)
        out = v.copy()
        for j in range(half):
            a = pos * theta ** (-2.0 * j / hd)
            c, s = math.cos(a), math.sin(a)
            out[j] = v[j] * c - v[j + half] * s
            out[j + half] = v[j + half] * c + v[j] * s
        return out

    def ffn(v, p):
        gt, up = W[p + "gate_proj.weight"] @ v, W[p + "up_proj.weight"] @ v
        return W[p + "down_proj.weight"] @ (gt / (1 + np.exp(-gt)) * up)

    x = W["model.embed_tokens.weight"][ids].copy()
    routing = []
    for i in range(cfg["num_hidden_layers"]):
        p = M.layer_prefix(i)
        q = np.zeros((B, L, nh, hd)); k = np.zeros((B, L, nkv, hd)); v = np.zeros((B, L, nkv, hd))
        for b in range(B):
            for t in range(L):
                h = rms(x[b, t], W[p + "input_layernorm.weight"])
                qq = (W[p + "self_attn.q_proj.weight"] @ h).reshape(nh, hd)
                kk = (W[p + "self_attn.k_proj.weight"] @ h).reshape(nkv, hd)
                v[b, t] = (W[p + "self_attn.v_proj.weight"] @ h).reshape(nkv, hd)
                for j in range(nh):
                    if cfg["qk_layernorm"]:
                        qq[j] = rms(qq[j], W[p + "self_attn.q_norm.weight"])
                    q[b, t, j] = rope(qq[j], t)
                for j in range(nkv):
                    if cfg["qk_layernorm"]:
                        kk[j] = rms(kk[j], W[p + "self_attn.k_norm.weight"])
                    k[b, t, j] = rope(kk[j], t)
        new = x.copy()
        for b in range(B):
            for t in range(L):
                o = np.zeros(nh * hd)
                for j in range(nh):
                    kv = j // (nh // nkv)
                    sc = []
                    for u in range(L):
                        if attention_mask is not None and attention_mask[b][u] == 0:
                            sc.append(-math.inf)
                        else:
                            sc.append(float(q[b, t, j] @ k[b, u, kv]) / math.sqrt(hd))
                    m = max(sc)
                    e = [math.exp(s - m) if s != -math.inf else 0.0 for s in sc]
                    z = sum(e)
                    o[j * hd:(j + 1) * hd] = sum(e[u] / z * v[b, u, kv] for u in range(L))
                new[b, t] = x[b, t] + W[p + "self_attn.o_proj.weight"] @ o
        x = new
        sel_layer = np.zeros((B, L, K), dtype=np.int64)
        for b in range(B):
            for t in range(L):
                h = rms(x[b, t], W[p + "post_attention_layernorm.weight"])
                if cfg["moe_layer_freq"][i] == 0:
                    x[b, t] = x[b, t] + ffn(h, p + "mlp.")
                    continue
                lg = W[p + "mlp.gate.weight"] @ h
                pr = np.exp(lg - lg.max()); pr /= pr.sum()
                s = pr + (W[p + "mlp.expert_bias"] if cfg["moe_router_enable_expert_bias"] else 0.0)
                order = sorted(range(E), key=lambda e_: (-s[e_], e_))[:K]
                sel_layer[b, t] = order
                y = sum(s[e_] * ffn(h, p + "mlp.experts.%d." % e_) for e_ in order)
                if cfg["shared_expert_intermediate_size"] is not None:
                    y = y + ffn(h, p + "shared_expert.")
                x[b, t] = x[b, t] + y
        if cfg["moe_layer_freq"][i] != 0:
            routing.append(sel_layer)
    logits = np.zeros((B, L, head.shape[0]))
    for b in range(B):
        for t in range(L):
            logits[b, t] = head @ rms(x[b, t], W["model.norm.weight"])
    return logits, routing


def routing_margin(cfg, w, trace):
    """Smallest k-th minus (k+1)-th score over every token and MoE layer (float64): of the
    routing scores (softmax + expert bias) and of the bias-free softmax the load-balancing loss
    counts its top-k of."""
    K, worst = cfg["num_experts_per_tok"], math.inf
    for i, lg in zip(trace["layers"], trace["router_logits"]):
        p = torch.softmax(lg.to(torch.float64), dim=-1)
        for s in (p, p + w[M.layer_prefix(i) + "mlp.expert_bias"].to(torch.float64)) if cfg["moe_router_enable_expert_bias"] else (p,):
            top = torch.topk(s, K + 1, dim=-1).values
            worst = min(worst, float((top[:, K - 1] - top[:, K]).min()))
    return worst


def build_model(name, spec):
    cfg = M.lladamoe_config(**spec["cfg"])
    w = M.random_weights(cfg, spec["seed"])
    d = os.path.join(OUT, name)
    R.save_checkpoint(d, cfg, w, spec["dtype"])
    cfg2, w2, info = R.load_checkpoint(d)
    assert cfg2 == cfg
    for n in w:  # bit-exact through the hand-written reader
        assert info[n]["raw"] == R.tensor_to_bytes(w[n], spec["dtype"]), n
    return cfg, w2  # the weights as stored (BF16 widened)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    golden = {"format_version": 1, "generator": "scripts/make_moe_golden.py + scripts/lladamoe_reference.py",
              "torch_version": torch.__version__, "min_routing_margin_threshold": MIN_ROUTING_MARGIN, "models": {}}
    torch.set_num_threads(1)
    for name, spec in MODELS.items():
        cfg, w = build_model(name, spec)
        ref = M.LladaMoeRef(cfg, w)
        entry = {"dir": "lladamoe/" + name, "storage_dtype": spec["dtype"], "weight_seed": spec["seed"],
                 "n_params": int(sum(t.numel() for t in w.values())), "cases": []}
        for case_seed in range(100, 200):  # re-draw the inputs until every routing decision is clear
            cases, ok = [], True
            for cname, desc, ids, am in case_inputs(cfg, case_seed):
                tr = {}
                with torch.no_grad():
                    logits = ref(ids, am, trace=tr)
                margin = routing_margin(cfg, w, tr)
                if margin < MIN_ROUTING_MARGIN:
                    ok = False
                    break
                cases.append((cname, desc, ids, am, logits, tr, margin))
            if ok:
                break
        else:
            raise SystemExit(name + ": no inputs with clear routing")
        entry["case_seed"] = case_seed
        for cname, desc, ids, am, logits, tr, margin in cases:
            naive, naive_routing = naive_forward(cfg, w, ids, None if am is None else am.tolist())
            diff = float(np.abs(naive - logits.numpy()).max())
            assert diff < 1e-3, (name, cname, diff)
            for a, b in zip(naive_routing, tr["selected"]):
                assert (a == b.numpy()).all(), (name, cname, "routing differs from the naive loop")
            fname = "%s_logits_%s.safetensors" % (name, cname)
            R.save_safetensors(os.path.join(OUT, fname), {"logits": logits}, "F32", metadata={"format": "pt"})
            c = {"name": cname, "description": desc, "file": "lladamoe/" + fname, "shape": list(logits.shape),
                 "input_ids": ids.tolist(), "attention_mask": None if am is None else am.tolist(),
                 "max_abs_logit": float(logits.abs().max()), "max_abs_diff_vs_float64_naive": diff,
                 "routing": [{"layer": i, "selected": s.tolist(), "weights": wt.tolist()}
                             for i, s, wt in zip(tr["layers"], tr["selected"], tr["weights"])],
                 "min_routing_margin": margin}
            if am is None:  # the trainer's case: every position counts
                aux = M.load_balancing_loss(tr["router_logits"], cfg["num_experts"], cfg["num_experts_per_tok"])
                c["aux_loss"] = float(aux)
                c["weighted_aux_loss"] = float(aux) * cfg["router_aux_loss_coef"]
            entry["cases"].append(c)
        # Self-checks that the goldens exercise what they claim.
        ids0 = cases[0][2]
        if cfg["moe_router_enable_expert_bias"]:
            w0 = dict(w)
            for i in range(cfg["num_hidden_layers"]):
                if cfg["moe_layer_freq"][i]:
                    w0[M.layer_prefix(i) + "mlp.expert_bias"] = torch.zeros(cfg["num_experts"])
            changed = 0
            for cname, desc, ids, am, logits, tr, margin in cases:
                t0 = {}
                with torch.no_grad():
                    M.LladaMoeRef(cfg, w0)(ids, am, trace=t0)
                changed += sum(int((a != b).any(dim=-1).sum()) for a, b in zip(t0["selected"], tr["selected"]))
            assert changed > 0, "the expert bias changes no routing decision"
            entry["tokens_rerouted_by_expert_bias"] = changed
        if cfg["qk_layernorm"]:
            w1 = {k: (v * 1.5 if k.endswith("q_norm.weight") else v) for k, v in w.items()}
            with torch.no_grad():
                delta = float((M.LladaMoeRef(cfg, w1)(ids0) - cases[0][4]).abs().max())
            assert delta > 1e-2, "q/k norms do not matter"
            entry["logit_change_when_q_norm_scaled_by_1.5"] = delta
        golden["models"][name] = entry
        print(name, "params", entry["n_params"], "case seed", case_seed,
              "min margin %.2e" % min(c["min_routing_margin"] for c in entry["cases"]),
              "max naive diff %.1e" % max(c["max_abs_diff_vs_float64_naive"] for c in entry["cases"]))
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
