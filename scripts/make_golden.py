#!/usr/bin/python3
"""Build tiny random LLaDA checkpoints and golden outputs into tests/golden/.

    /usr/bin/python3 scripts/make_golden.py

Deterministic (fixed seeds). Runs self-checks first-class: a naive float64 loop
implementation of the forward pass, GQA == MHA with duplicated kv heads, bit-exact reload
of every checkpoint through the reader, attention sensitivity, and conditioning margins of
every token-exact generate case (prompt re-drawn from the next seed if ill-conditioned).
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "golden")

# conditioning thresholds for token-exact generate goldens
MIN_TOPK_MARGIN = 1e-4   # probability units (float64 softmax), k-th vs (k+1)-th candidate
MIN_ARGMAX_GAP = 1e-3    # logit units, top1 - top2 at every masked position of the block
WARN_MARGIN = 1e-5

MODELS = [
    # name, n_kv_heads, storage dtype, shards, weight_tying, weight seed
    ("tiny-f32", 4, "F32", 1, False, 1001),
    ("tiny-bf16-gqa", 2, "BF16", 2, False, 2002),
    ("tiny-tied", 4, "F16", 1, True, 3003),
]

GEN_CASES = [
    # name, gen_length, steps, block_length, temperature, cfg_scale, remasking, token_exact
    ("greedy_g16_s16_b16", 16, 16, 16, 0.0, 0.0, "low_confidence", True),
    ("semiar_g16_s8_b4", 16, 8, 4, 0.0, 0.0, "low_confidence", True),
    ("multi_g16_s4_b16", 16, 4, 16, 0.0, 0.0, "low_confidence", True),
    ("uneven_g16_s6_b16", 16, 6, 16, 0.0, 0.0, "low_confidence", True),
    ("uneven_semiar_g16_s6_b8", 16, 6, 8, 0.0, 0.0, "low_confidence", True),
    ("cfg1.5_g16_s8_b8", 16, 8, 8, 0.0, 1.5, "low_confidence", True),
    ("random_remask_g16_s8_b8", 16, 8, 8, 0.0, 0.0, "random", False),
    ("temp0.8_g16_s8_b16", 16, 8, 16, 0.8, 0.0, "low_confidence", False),
]

PROMPT_LEN = 8


def tiny_config(n_kv, tying):
    cfg = R.llada_config(d_model=64, n_heads=4, n_kv_heads=n_kv, n_layers=2,
                         mlp_hidden_size=160, vocab_size=97, weight_tying=tying,
                         rope_theta=10000.0, max_sequence_length=256,
                         eos_token_id=95, mask_token_id=96)
    return cfg


# ------------------------------------------------------------------ naive reference
def naive_forward(cfg, w, ids, attention_mask=None):
    """Slow float64 loops over batch, position, head and dimension pair; independent of the
    vectorised LladaRef (explicit pair rotation for RoPE, explicit per-key softmax)."""
    W = {k: v.to(torch.float64).numpy() for k, v in w.items()}
    P = "model.transformer."
    d, nh = cfg["d_model"], cfg["n_heads"]
    nkv = cfg["n_kv_heads"]
    hd = d // nh
    half = hd // 2
    grp = nh // nkv
    eps = cfg["rms_norm_eps"]
    theta = cfg["rope_theta"]
    ids = np.asarray(ids)
    B, L = ids.shape
    head = W[P + "wte.weight"] if cfg["weight_tying"] else W[P + "ff_out.weight"]

    def rms(v, g):
        return v / math.sqrt(float(np.mean(v * v)) + eps) * g

    def rope(vec, pos):
        out = vec.copy()
        for j in range(half):
            ang = pos * theta ** (-2.0 * j / hd)
            c, s = math.cos(ang), math.sin(ang)
            a, b = vec[j], vec[j + half]
            out[j] = a * c - b * s
            out[j + half] = b * c + a * s
        return out

    result = np.zeros((B, L, head.shape[0]))
    for bi in range(B):
        x = [W[P + "wte.weight"][ids[bi, t]].copy() for t in range(L)]
        for li in range(cfg["n_layers"]):
            p = P + "blocks.%d." % li
            hs = [rms(x[t], W[p + "attn_norm.weight"]) for t in range(L)]
            q = [W[p + "q_proj.weight"] @ hs[t] for t in range(L)]
            k = [W[p + "k_proj.weight"] @ hs[t] for t in range(L)]
            v = [W[p + "v_proj.weight"] @ hs[t] for t in range(L)]
            o = [np.zeros(nh * hd) for _ in range(L)]
            for hh in range(nh):
                kvh = hh // grp
                qs = [rope(q[t][hh * hd:(hh + 1) * hd], t) for t in range(L)]
                ks = [rope(k[t][kvh * hd:(kvh + 1) * hd], t) for t in range(L)]
                vs = [v[t][kvh * hd:(kvh + 1) * hd] for t in range(L)]
                for t in range(L):
                    keys = [j for j in range(L)
                            if attention_mask is None or attention_mask[bi][j]]
                    sc = np.array([float(qs[t] @ ks[j]) / math.sqrt(hd) for j in keys])
                    e = np.exp(sc - sc.max())
                    a = e / e.sum()
                    acc = np.zeros(hd)
                    for wgt, j in zip(a, keys):
                        acc += wgt * vs[j]
                    o[t][hh * hd:(hh + 1) * hd] = acc
            for t in range(L):
                x[t] = x[t] + W[p + "attn_out.weight"] @ o[t]
                h2 = rms(x[t], W[p + "ff_norm.weight"])
                gte = W[p + "ff_proj.weight"] @ h2
                up = W[p + "up_proj.weight"] @ h2
                act = gte / (1.0 + np.exp(-gte)) * up
                x[t] = x[t] + W[p + "ff_out.weight"] @ act
        for t in range(L):
            result[bi, t] = head @ rms(x[t], W[P + "ln_f.weight"])
    return result


# ------------------------------------------------------------------ helpers
def dump_json(obj, ind=0):
    """JSON with one line per scalar list (compact but diffable)."""
    sp = " " * ind
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = ["%s %s: %s" % (sp, json.dumps(k), dump_json(v, ind + 1)) for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + sp + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return json.dumps(obj)
        if all(isinstance(v, list) and all(not isinstance(u, (dict, list)) for u in v)
               for v in obj):
            return "[" + ", ".join(json.dumps(v) for v in obj) + "]"
        items = ["%s %s" % (sp, dump_json(v, ind + 1)) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + sp + "]"
    return json.dumps(obj)


def fnum(v):
    """JSON-safe float (inf -> None)."""
    return None if (v is None or not math.isfinite(v)) else float(v)


def check_reload(dirpath, weights, dtype):
    cfg2, w2, info = R.load_checkpoint(dirpath)
    assert sorted(w2) == sorted(weights), "tensor name mismatch after reload"
    for n, t in weights.items():
        assert info[n]["dtype"] == dtype
        assert list(info[n]["shape"]) == list(t.shape)
        expect = R.tensor_to_bytes(t, dtype)
        assert info[n]["raw"] == expect, "raw bytes differ for " + n
        # widened values equal the torch rounding of the original
        if dtype == "BF16":
            ref = t.to(torch.bfloat16).to(torch.float32)
        elif dtype == "F16":
            ref = t.to(torch.float16).to(torch.float32)
        else:
            ref = t.to(torch.float32)
        assert torch.equal(w2[n].view(torch.int32), ref.contiguous().view(torch.int32)), n
    return cfg2, w2


def make_logits_cases(name, cfg, model, w):
    V = cfg["vocab_size"]
    mask_id, pad_id = cfg["mask_token_id"], cfg["pad_token_id"]
    g = torch.Generator().manual_seed(4242 + len(name))
    cases = []
    # case 0: one sequence of 12 with mask tokens
    ids0 = torch.randint(0, 95, (1, 12), generator=g)
    ids0[0, [2, 7, 8, 11]] = mask_id
    # case 1: batch of 2, row 1 left-padded by 3 pad tokens (key mask)
    ids1 = torch.randint(0, 95, (2, 12), generator=g)
    ids1[0, 5] = mask_id
    ids1[1, :3] = pad_id
    ids1[1, [6, 9]] = mask_id
    am1 = torch.ones(2, 12, dtype=torch.int64)
    am1[1, :3] = 0
    # case 2: longer sequence (40) mostly masks, like a generation canvas
    ids2 = torch.randint(0, 95, (1, 40), generator=g)
    ids2[0, 10:] = mask_id
    ids2[0, [17, 25, 33]] = torch.randint(0, 95, (3,), generator=g)
    for ci, (ids, am, desc) in enumerate([
            (ids0, None, "single sequence of 12 with 4 mask tokens, no attention mask"),
            (ids1, am1, "batch of 2; row 1 left-padded with 3 pad (eos) tokens masked as keys "
                        "(attention_mask 0); positions stay 0..L-1 in both rows (LLaDA has no "
                        "position ids); pad rows' logits are still defined and recorded"),
            (ids2, None, "single sequence of 40: 10 prompt tokens, then masks with 3 "
                         "scattered tokens (a mid-generation canvas)")]):
        logits = model(ids, am)
        if am is not None:  # the key mask must matter for the padded row
            nomask = model(ids)
            dm = float((nomask[1, 3:] - logits[1, 3:]).abs().max())
            assert dm > 0.05, "padding mask makes no difference"
            assert torch.equal(nomask[0], logits[0]) or \
                float((nomask[0] - logits[0]).abs().max()) < 1e-5
        f64 = naive_forward(cfg, w, ids.numpy(), None if am is None else am.numpy())
        diff = float(np.abs(logits.double().numpy() - f64).max())
        assert diff < 1e-3, "naive float64 forward disagrees: %g" % diff
        fname = "%s/logits_case%d.safetensors" % (name, ci)
        R.save_safetensors(os.path.join(OUT, fname), {"logits": logits}, "F32")
        # reread check
        back, _, _ = R.read_safetensors(os.path.join(OUT, fname))
        assert torch.equal(back["logits"], logits)
        top2 = torch.topk(logits.double(), 2, dim=-1).values
        cases.append({
            "name": "case%d" % ci,
            "description": desc,
            "file": fname,
            "tensor": "logits",
            "shape": list(logits.shape),
            "input_ids": ids.tolist(),
            "attention_mask": None if am is None else am.tolist(),
            "positions": [list(range(ids.shape[1]))] * ids.shape[0],
            "argmax": logits.argmax(-1).tolist(),
            "min_top2_gap": float((top2[..., 0] - top2[..., 1]).min()),
            "max_abs_logit": float(logits.abs().max()),
            "max_abs_diff_vs_float64_naive": diff,
        })
        print("  logits case%d %s: max|logit| %.3f, f32 vs naive f64 max diff %.2e"
              % (ci, list(logits.shape), float(logits.abs().max()), diff))
    return cases


def make_generate_cases(name, cfg, model, seed_base):
    out = []
    mask_id = cfg["mask_token_id"]
    for ci, (cname, gl, st, bl, temp, cfgs, rem, exact) in enumerate(GEN_CASES):
        tries = 0
        pseed = seed_base + 100 * ci
        while True:
            g = torch.Generator().manual_seed(pseed)
            prompt = torch.randint(0, 95, (PROMPT_LEN,), generator=g).tolist()
            rng = torch.Generator().manual_seed(pseed + 7)  # noise for random/temperature
            canvas, tr = R.generate(model, prompt, steps=st, gen_length=gl, block_length=bl,
                                    temperature=temp, cfg_scale=cfgs, remasking=rem,
                                    mask_id=mask_id, generator=rng)
            margins = [s["topk_margin"] for s in tr["steps"]]
            gaps = [s["argmax_gap"] for s in tr["steps"]]
            min_m, min_g = min(margins), min(gaps)
            ok = ((min_m >= MIN_TOPK_MARGIN and min_g >= MIN_ARGMAX_GAP) or not exact) \
                and mask_id not in canvas
            if min_m < WARN_MARGIN and exact:
                print("  WARNING: %s/%s prompt seed %d top-k margin %.3g < %g, re-drawing"
                      % (name, cname, pseed, min_m, WARN_MARGIN))
            if ok:
                break
            tries += 1
            pseed += 1
            assert tries < 50, "could not find a well-conditioned prompt"
        assert mask_id not in canvas
        counts_flat = [s["count"] for s in tr["steps"]]
        # counts are fully determined by the schedule (prompt has no masks)
        sched = [R.transfer_schedule(bl, st // (gl // bl)) for _ in range(gl // bl)]
        assert tr["transfer_counts"] == sched
        assert counts_flat == [c for blk in sched for c in blk]
        assert sum(counts_flat) == gl
        case = {
            "name": cname,
            "token_exact": exact,
            "prompt_ids": prompt,
            "prompt_seed": pseed,
            "gen_length": gl, "steps": st, "block_length": bl,
            "temperature": temp, "cfg_scale": cfgs, "remasking": rem, "mask_id": mask_id,
            "transfer_counts": tr["transfer_counts"],
            "step_counts": counts_flat,
        }
        if exact and cfgs > 0.0:
            plain, _ = R.generate(model, prompt, steps=st, gen_length=gl, block_length=bl,
                                  temperature=temp, cfg_scale=0.0, remasking=rem,
                                  mask_id=mask_id)
            assert plain != canvas, "CFG made no difference; case would not test it"
            case["output_ids_without_cfg"] = plain
        if exact:
            case["output_ids"] = canvas
            case["steps_trace"] = [{
                "block": s["block"], "step": s["step"], "count": s["count"],
                "positions": s["positions"], "tokens": s["tokens"],
                "topk_margin": fnum(s["topk_margin"]), "argmax_gap": fnum(s["argmax_gap"]),
            } for s in tr["steps"]]
            case["min_topk_margin"] = fnum(min_m)
            case["min_argmax_gap"] = fnum(min_g)
            # re-run: deterministic
            canvas2, _ = R.generate(model, prompt, steps=st, gen_length=gl, block_length=bl,
                                    temperature=temp, cfg_scale=cfgs, remasking=rem,
                                    mask_id=mask_id)
            assert canvas2 == canvas
            print("  gen %-26s prompt seed %d (re-draws %d): min top-k margin %.2e, "
                  "min argmax gap %.2e" % (cname, pseed, tries, min_m, min_g))
        else:
            print("  gen %-26s counts only: %s" % (cname, counts_flat))
        out.append(case)
    return out


def attention_sensitivity(model, cfg):
    g = torch.Generator().manual_seed(99)
    ids = torch.randint(0, 95, (1, 12), generator=g)
    a = model(ids)
    ids2 = ids.clone()
    ids2[0, 3] = (ids2[0, 3] + 1) % 95
    b = model(ids2)
    d = (a - b).abs().amax(-1)[0]
    others = torch.cat([d[:3], d[4:]])
    print("  attention sensitivity: min over other positions of max|dlogit| = %.3f"
          % float(others.min()))
    assert float(others.min()) > 0.05, "attention does not matter enough"
    return float(others.min())


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    golden = {
        "format_version": 1,
        "generator": "/usr/bin/python3 scripts/make_golden.py",
        "torch_version": torch.__version__,
        "conditioning_thresholds": {"min_topk_margin": MIN_TOPK_MARGIN,
                                    "min_argmax_gap": MIN_ARGMAX_GAP},
        "models": {},
    }
    loaded = {}
    for mi, (name, nkv, dtype, shards, tying, seed) in enumerate(MODELS):
        print("model", name)
        d = os.path.join(OUT, name)
        if os.path.isdir(d):
            shutil.rmtree(d)
        cfg = tiny_config(nkv, tying)
        w0 = R.random_weights(cfg, seed)
        R.save_checkpoint(d, cfg, w0, dtype, shards=shards)
        cfg2, w = check_reload(d, w0, dtype)
        assert cfg2 == cfg
        print("  reload through reader: bit-exact (%s, %d shard(s))" % (dtype, shards))
        model = R.LladaRef(cfg, w)
        loaded[name] = (cfg, w, model)
        sens = attention_sensitivity(model, cfg)
        files = sorted(os.listdir(d))
        entry = {
            "dir": name,
            "storage_dtype": dtype,
            "shards": shards,
            "files": files,
            "n_params": R.count_params(w),
            "weight_seed": seed,
            "attention_sensitivity": sens,
            "logits_cases": make_logits_cases(name, cfg, model, w),
            "generate_cases": make_generate_cases(name, cfg, model, 50000 + 1000 * mi),
        }
        entry["files"] = sorted(os.listdir(d))
        golden["models"][name] = entry

    # GQA == MHA with the kv heads duplicated (query head j uses kv head j // group)
    cfg, w, model = loaded["tiny-bf16-gqa"]
    grp = cfg["n_heads"] // cfg["n_kv_heads"]
    hd = cfg["d_model"] // cfg["n_heads"]
    cfg_mha = dict(cfg, n_kv_heads=cfg["n_heads"])
    w_mha = dict(w)
    for i in range(cfg["n_layers"]):
        for p in ("k_proj", "v_proj"):
            n = "model.transformer.blocks.%d.%s.weight" % (i, p)
            t = w[n].view(cfg["n_kv_heads"], hd, cfg["d_model"])
            w_mha[n] = t.repeat_interleave(grp, dim=0).reshape(cfg["n_heads"] * hd, cfg["d_model"])
    mha = R.LladaRef(cfg_mha, w_mha)
    ids = torch.tensor([[5, 17, 96, 33, 96, 96, 2, 80, 96, 41]])
    diff = float((mha(ids) - model(ids)).abs().max())
    print("GQA vs duplicated-kv MHA max diff %.2e" % diff)
    assert diff < 1e-5
    golden["self_checks"] = {
        "gqa_vs_duplicated_mha_max_abs_diff": diff,
        "naive_float64_forward": "every logits case compared against a loop implementation "
                                 "in float64 (max_abs_diff_vs_float64_naive)",
        "reload_bit_exact": "every checkpoint re-read through the reader; raw bytes and "
                            "widened values identical to torch's F16/BF16 rounding",
    }

    with open(os.path.join(OUT, "golden.json"), "w") as f:
        f.write(dump_json(golden) + "\n")
    with open(os.path.join(OUT, "golden.json")) as f:
        assert json.load(f) == json.loads(json.dumps(golden))
    total = 0
    for dp, _, fs in os.walk(OUT):
        for fn in fs:
            total += os.path.getsize(os.path.join(dp, fn))
    print("total golden size %.1f KiB" % (total / 1024))
    assert total < 2 * 1024 * 1024


if __name__ == "__main__":
    main()
