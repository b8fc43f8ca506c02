#!/usr/bin/python3
"""Build tiny random Qwen2.5-, Qwen3- and Dream-layout checkpoints and golden logits into
tests/golden/qwen/ (see tests/golden/README.md).

    /usr/bin/python3 scripts/make_qwen_golden.py

Deterministic (fixed seeds). The config.json files carry the fields the published configs have
(Qwen2.5-0.5B-Instruct, Qwen3-0.6B, Dream-v0-Instruct-7B) with tiny sizes; the reference
(qwen_reference.py) re-reads each written directory, resolves the config the way the Python config
classes do and computes the logits in float32. Self-checks: a naive float64 loop implementation of
every forward, bit-exact reload of every checkpoint, the key mask and every token mattering, GQA ==
MHA with duplicated kv heads, and (Dream) the conditioning margins of the greedy generation.
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
import qwen_reference as Q  # noqa: E402
from make_golden import check_reload, dump_json, fnum  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "golden", "qwen")
VOCAB = 128
MIN_TOPK_MARGIN = 1e-4
MIN_ARGMAX_GAP = 1e-3


def qwen25_config():
    """Qwen2.5-0.5B-Instruct's config.json fields, tiny sizes (GQA 4/2, tied head, sliding window off)."""
    return {
        "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 125, "eos_token_id": 126,
        "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
        "max_position_embeddings": 32768, "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 4,
        "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
        "sliding_window": 32768, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers_version": "4.43.1", "use_cache": True, "use_sliding_window": False, "vocab_size": VOCAB,
    }


def qwen3_config():
    """Qwen3-0.6B's config.json fields, tiny sizes: head_dim 12 while hidden / heads = 8, GQA 4/2, untied."""
    return {
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 125,
        "eos_token_id": 126, "head_dim": 12, "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02,
        "intermediate_size": 64, "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
        "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
        "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False,
        "vocab_size": VOCAB,
    }


def qwen3_bias_config():
    """Qwen3 with attention_bias (q/k/v/o biases), the newer rope_parameters spelling, a list of EOS ids,
    no head_dim (Qwen3's default 128 applies); tied head."""
    return {
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": True, "eos_token_id": [126, 124], "hidden_size": 32,
        "intermediate_size": 48, "max_position_embeddings": 2048, "model_type": "qwen3", "num_attention_heads": 2,
        "num_hidden_layers": 2, "num_key_value_heads": 1, "rms_norm_eps": 1e-05,
        "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"}, "tie_word_embeddings": True,
        "torch_dtype": "float16", "transformers_version": "5.0.0", "vocab_size": VOCAB,
    }


def dream_config():
    """Dream-v0-Instruct-7B's config.json fields, tiny sizes (GQA 4/2, untied)."""
    return {
        "architectures": ["DreamModel"], "attention_dropout": 0.0,
        "auto_map": {"AutoConfig": "configuration_dream.DreamConfig", "AutoModel": "modeling_dream.DreamModel"},
        "bos_token_id": 126, "eos_token_id": 126, "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02,
        "intermediate_size": 64, "mask_token_id": 127, "max_position_embeddings": 131072, "max_window_layers": 28,
        "model_type": "Dream", "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
        "pad_token_id": 126, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000.0,
        "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.46.2", "use_cache": False, "use_sliding_window": False, "vocab_size": VOCAB,
    }


MODELS = [
    # dir, config, storage dtype, shards, weight seed
    ("qwen2.5-bf16-sharded", qwen25_config, "BF16", 2, 7001),
    ("qwen3-f32", qwen3_config, "F32", 1, 7002),
    ("qwen3-attn-bias-f16", qwen3_bias_config, "F16", 1, 7003),
    ("dream-f32", dream_config, "F32", 1, 7004),
]

DREAM_GEN = [
    # name, gen_length, steps
    ("dream_g16_s8", 16, 8),
    ("dream_g16_s16", 16, 16),
]


def random_weights(rc, seed):
    """Weights that give non-flat logits and attention that matters: linear layers N(0, gain²/in),
    q/k with a larger gain, biases N(0, 0.3²), norm weights U(0.7, 1.3) (q/k norms U(1.5, 2.5), which
    sets how peaked attention is after the per-head normalisation), a head that mixes in the embedding."""
    g = torch.Generator().manual_seed(seed)
    d, nh, nkv, hd = rc["hidden_size"], rc["num_attention_heads"], rc["num_key_value_heads"], rc["head_dim"]
    m, V = rc["intermediate_size"], rc["vocab_size"]

    def lin(o, i, gain=1.0):
        return torch.randn(o, i, generator=g) * (gain / math.sqrt(i))

    def norm(n, lo=0.7, hi=1.3):
        return lo + (hi - lo) * torch.rand(n, generator=g)

    w = {"model.embed_tokens.weight": torch.randn(V, d, generator=g)}
    for i in range(rc["num_hidden_layers"]):
        p = "model.layers.%d." % i
        w[p + "input_layernorm.weight"] = norm(d)
        w[p + "self_attn.q_proj.weight"] = lin(nh * hd, d, 2.0)
        w[p + "self_attn.k_proj.weight"] = lin(nkv * hd, d, 2.0)
        w[p + "self_attn.v_proj.weight"] = lin(nkv * hd, d)
        w[p + "self_attn.o_proj.weight"] = lin(d, nh * hd)
        if rc["bias_qkv"]:
            for proj, n in (("q_proj", nh * hd), ("k_proj", nkv * hd), ("v_proj", nkv * hd)):
                w[p + "self_attn.%s.bias" % proj] = 0.3 * torch.randn(n, generator=g)
        if rc["bias_o"]:
            w[p + "self_attn.o_proj.bias"] = 0.3 * torch.randn(d, generator=g)
        if rc["qk_norm"]:
            w[p + "self_attn.q_norm.weight"] = norm(hd, 1.5, 2.5)
            w[p + "self_attn.k_norm.weight"] = norm(hd, 1.5, 2.5)
        w[p + "post_attention_layernorm.weight"] = norm(d)
        w[p + "mlp.gate_proj.weight"] = lin(m, d, 1.5)
        w[p + "mlp.up_proj.weight"] = lin(m, d, 1.5)
        w[p + "mlp.down_proj.weight"] = lin(d, m)
    w["model.norm.weight"] = norm(d)
    scale = 2.5 / math.sqrt(d)
    mid = rc["mask_token_id"]
    if rc["tie_word_embeddings"]:
        w["model.embed_tokens.weight"] *= scale
    else:
        w["lm_head.weight"] = (torch.randn(V, d, generator=g) + w["model.embed_tokens.weight"]) * scale
    if mid is not None:  # the mask token is (practically) never predicted
        w["lm_head.weight" if not rc["tie_word_embeddings"] else "model.embed_tokens.weight"][mid] *= 0.25
    assert sorted(w) == sorted(Q.tensor_names(rc))
    return w


def naive_forward(rc, w, ids, attention_mask=None):
    """Slow float64 loops over batch, position, head and dimension pair; independent of QwenRef
    (explicit pair rotation, explicit per-key softmax, explicit per-head norm)."""
    W = {k: v.to(torch.float64).numpy() for k, v in w.items()}
    nh, nkv, hd, eps = rc["num_attention_heads"], rc["num_key_value_heads"], rc["head_dim"], rc["rms_norm_eps"]
    half, grp, theta = hd // 2, nh // nkv, rc["rope_theta"]
    ids = np.asarray(ids)
    B, L = ids.shape
    head = W["model.embed_tokens.weight" if rc["tie_word_embeddings"] else "lm_head.weight"]

    def rms(v, g):
        return v / math.sqrt(float(np.mean(v * v)) + eps) * g

    def rope(vec, pos):
        out = vec.copy()
        for j in range(half):
            ang = pos * theta ** (-2.0 * j / hd)
            c, s = math.cos(ang), math.sin(ang)
            out[j] = vec[j] * c - vec[j + half] * s
            out[j + half] = vec[j + half] * c + vec[j] * s
        return out

    def lin(name, v):
        y = W[name + ".weight"] @ v
        return y + W[name + ".bias"] if name + ".bias" in W else y

    result = np.zeros((B, L, head.shape[0]))
    for b in range(B):
        x = [W["model.embed_tokens.weight"][ids[b, t]].copy() for t in range(L)]
        for li in range(rc["num_hidden_layers"]):
            p = "model.layers.%d." % li
            hs = [rms(x[t], W[p + "input_layernorm.weight"]) for t in range(L)]
            q = [lin(p + "self_attn.q_proj", hs[t]) for t in range(L)]
            k = [lin(p + "self_attn.k_proj", hs[t]) for t in range(L)]
            v = [lin(p + "self_attn.v_proj", hs[t]) for t in range(L)]
            o = [np.zeros(nh * hd) for _ in range(L)]
            for hh in range(nh):
                kv = hh // grp
                qs, ks = [], []
                for t in range(L):
                    qh, kh = q[t][hh * hd:(hh + 1) * hd], k[t][kv * hd:(kv + 1) * hd]
                    if rc["qk_norm"]:
                        qh, kh = rms(qh, W[p + "self_attn.q_norm.weight"]), rms(kh, W[p + "self_attn.k_norm.weight"])
                    qs.append(rope(qh, t))
                    ks.append(rope(kh, t))
                for t in range(L):
                    keys = [j for j in range(L) if (not rc["causal"] or j <= t)
                            and (attention_mask is None or attention_mask[b][j])]
                    sc = np.array([float(qs[t] @ ks[j]) / math.sqrt(hd) for j in keys])
                    e = np.exp(sc - sc.max())
                    for a, j in zip(e / e.sum(), keys):
                        o[t][hh * hd:(hh + 1) * hd] += a * v[j][kv * hd:(kv + 1) * hd]
            for t in range(L):
                x[t] = x[t] + lin(p + "self_attn.o_proj", o[t])
                h2 = rms(x[t], W[p + "post_attention_layernorm.weight"])
                gt = W[p + "mlp.gate_proj.weight"] @ h2
                x[t] = x[t] + W[p + "mlp.down_proj.weight"] @ (gt / (1.0 + np.exp(-gt)) * (W[p + "mlp.up_proj.weight"] @ h2))
        for t in range(L):
            result[b, t] = head @ rms(x[t], W["model.norm.weight"])
    if rc["shift_logits"]:
        result = np.concatenate([result[:, :1], result[:, :-1]], axis=1)
    return result


def logits_cases(name, rc, model, w):
    """case0: 12 ids; case1: batch of 2 with padding keys masked (AR: right-padded, Dream: left-padded);
    case2: 40 ids. Dream's inputs contain mask tokens like a generation canvas."""
    g = torch.Generator().manual_seed(4242 + len(name))
    top = 120  # ordinary ids: below the special ones
    pad = rc["pad_token_id"] if rc["pad_token_id"] is not None else rc["eos_token_id"]
    mask = rc["mask_token_id"]
    ids0 = torch.randint(0, top, (1, 12), generator=g)
    ids1 = torch.randint(0, top, (2, 10), generator=g)
    am1 = torch.ones(2, 10, dtype=torch.int64)
    ids2 = torch.randint(0, top, (1, 40), generator=g)
    if rc["causal"]:
        ids1[1, 7:] = pad
        am1[1, 7:] = 0
        pad_desc = "row 1 right-padded with 3 pad tokens masked as keys (attention_mask 0)"
    else:
        ids0[0, [2, 7, 8, 11]] = mask
        ids1[1, :3] = pad
        am1[1, :3] = 0
        ids1[0, 5] = mask
        ids1[1, [6, 8]] = mask
        ids2[0, 10:] = mask
        ids2[0, [17, 25, 33]] = torch.randint(0, top, (3,), generator=g)
        pad_desc = "row 1 left-padded with 3 pad tokens masked as keys (attention_mask 0)"
    cases, tensors = [], {}
    for ci, (ids, am, desc) in enumerate([
            (ids0, None, "one sequence of 12" + (" with 4 mask tokens" if mask is not None else "")),
            (ids1, am1, "batch of 2, " + pad_desc + "; positions 0..L-1 in both rows"),
            (ids2, None, "one sequence of 40" + (": 10 prompt ids, then masks with 3 ids" if mask is not None else ""))]):
        logits = model(ids, am)
        if am is not None:
            nomask = model(ids)
            assert float((nomask - logits).abs().max()) > 0.05, "the key mask makes no difference"
        f64 = naive_forward(rc, w, ids.numpy(), None if am is None else am.numpy())
        diff = float(np.abs(logits.double().numpy() - f64).max())
        assert diff < 1e-3, "naive float64 forward disagrees: %g" % diff
        tensors["case%d" % ci] = logits
        cases.append({
            "name": "case%d" % ci, "description": desc, "tensor": "case%d" % ci, "shape": list(logits.shape),
            "input_ids": ids.tolist(), "attention_mask": None if am is None else am.tolist(),
            "argmax": logits.argmax(-1).tolist(), "max_abs_logit": float(logits.abs().max()),
            "max_abs_diff_vs_float64_naive": diff,
        })
        print("  logits case%d %s: max|logit| %.3f, f32 vs naive f64 %.2e" % (ci, list(logits.shape), float(logits.abs().max()), diff))
    R.save_safetensors(os.path.join(OUT, name, "logits.safetensors"), tensors, "F32")
    back, _, _ = R.read_safetensors(os.path.join(OUT, name, "logits.safetensors"))
    assert all(torch.equal(back[k], v) for k, v in tensors.items())
    return cases


def sensitivity(model, rc):
    """Changing token 3 must move the logits of every position that can see it by > 0.05."""
    ids = torch.randint(0, 120, (1, 12), generator=torch.Generator().manual_seed(99))
    ids2 = ids.clone()
    ids2[0, 3] = (ids2[0, 3] + 1) % 120
    d = (model(ids) - model(ids2)).abs().amax(-1)[0]
    seen = d[4:] if rc["causal"] else torch.cat([d[:3], d[4:]])
    if rc["causal"]:
        assert float(d[:3].max()) == 0.0, "a causal model saw a later token"
    print("  attention sensitivity %.3f" % float(seen.min()))
    assert float(seen.min()) > 0.05, "attention does not matter enough"
    return float(seen.min())


def generate_cases(model, rc):
    out = []
    for ci, (cname, gl, st) in enumerate(DREAM_GEN):
        for pseed in range(60000 + 100 * ci, 60000 + 100 * ci + 50):
            prompt = torch.randint(0, 120, (8,), generator=torch.Generator().manual_seed(pseed)).tolist()
            canvas, tr = Q.dream_generate(model, prompt, gl, st, mask_id=rc["mask_token_id"])
            committing = [s for s in tr if s["count"] > 0]
            min_m = min(s["topk_margin"] for s in committing)
            min_g = min(s["argmax_gap"] for s in committing)
            if min_m >= MIN_TOPK_MARGIN and min_g >= MIN_ARGMAX_GAP and rc["mask_token_id"] not in canvas:
                break
        else:
            raise AssertionError("no well-conditioned prompt")
        assert Q.dream_generate(model, prompt, gl, st, mask_id=rc["mask_token_id"])[0] == canvas
        out.append({
            "name": cname, "prompt_ids": prompt, "prompt_seed": pseed, "gen_length": gl, "steps": st,
            "eps": 1e-3, "alg": "maskgit_plus", "temperature": 0.0, "mask_id": rc["mask_token_id"],
            "step_counts": [s["count"] for s in tr], "output_ids": canvas,
            "steps_trace": [dict(s, topk_margin=fnum(s["topk_margin"]), argmax_gap=fnum(s["argmax_gap"])) for s in tr],
            "min_topk_margin": fnum(min_m), "min_argmax_gap": fnum(min_g),
        })
        print("  gen %s prompt seed %d: counts %s, min top-k margin %.2e, min argmax gap %.2e"
              % (cname, pseed, [s["count"] for s in tr], min_m, min_g))
    return out


def gqa_check(rc, w, model):
    """GQA equals MHA with each kv head's k/v projections (and biases, norms unchanged) duplicated."""
    grp, hd, d = rc["num_attention_heads"] // rc["num_key_value_heads"], rc["head_dim"], rc["hidden_size"]
    w2 = dict(w)
    for i in range(rc["num_hidden_layers"]):
        for proj in ("k_proj", "v_proj"):
            n = "model.layers.%d.self_attn.%s." % (i, proj)
            w2[n + "weight"] = w[n + "weight"].view(-1, hd, d).repeat_interleave(grp, 0).reshape(-1, d)
            if n + "bias" in w:
                w2[n + "bias"] = w[n + "bias"].view(-1, hd).repeat_interleave(grp, 0).reshape(-1)
    mha = Q.QwenRef(dict(rc, num_key_value_heads=rc["num_attention_heads"]), w2)
    ids = torch.randint(0, 120, (1, 10), generator=torch.Generator().manual_seed(5))
    diff = float((mha(ids) - model(ids)).abs().max())
    assert diff < 1e-5, diff
    return diff


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    golden = {"format_version": 1, "generator": "/usr/bin/python3 scripts/make_qwen_golden.py",
              "torch_version": torch.__version__, "reference": "scripts/qwen_reference.py", "models": {}}
    gqa = {}
    for name, make_cfg, dtype, shards, seed in MODELS:
        print("model", name)
        d = os.path.join(OUT, name)
        cfg = make_cfg()
        w0 = random_weights(Q.resolve_config(cfg), seed)
        R.save_checkpoint(d, cfg, w0, dtype, shards=shards)
        cfg2, w = check_reload(d, w0, dtype)
        assert cfg2 == cfg
        rc = Q.resolve_config(cfg2)  # what the Python config class makes of the file as written
        model = Q.QwenRef(rc, w)
        entry = {"dir": "qwen/" + name, "storage_dtype": dtype, "shards": shards, "weight_seed": seed,
                 "resolved_config": rc, "n_params": R.count_params(w),
                 "attention_sensitivity": sensitivity(model, rc), "logits_file": "qwen/%s/logits.safetensors" % name}
        entry["logits_cases"] = logits_cases(name, rc, model, w)
        if rc["num_key_value_heads"] < rc["num_attention_heads"]:
            gqa[name] = gqa_check(rc, w, model)
        if rc["shift_logits"]:
            entry["generate_cases"] = generate_cases(model, rc)
        entry["files"] = sorted(os.listdir(d))
        golden["models"][name] = entry
    golden["self_checks"] = {
        "naive_float64_forward": "every logits case against a float64 loop implementation (max_abs_diff_vs_float64_naive)",
        "reload_bit_exact": "every checkpoint re-read: raw bytes and widened values identical to torch's rounding",
        "gqa_vs_duplicated_mha_max_abs_diff": gqa,
    }
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        f.write(dump_json(golden) + "\n")
    with open(os.path.join(OUT, "golden.json")) as f:
        assert json.load(f) == json.loads(json.dumps(golden))
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fs in os.walk(OUT) for fn in fs)
    print("total size %.1f KiB" % (total / 1024))
    assert total < 1024 * 1024


if __name__ == "__main__":
    main()
