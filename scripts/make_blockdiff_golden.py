#!/usr/bin/python3
"""Build tiny random SDAR-, Fast-dLLM v2- and LLaDA2.0-mini-layout checkpoints, block-causal golden
logits and greedy generate goldens into tests/golden/blockdiff/ (see its README.md).

    /usr/bin/python3 scripts/make_blockdiff_golden.py

Deterministic (fixed seeds; prompts drawn from seeded generators, the first well-conditioned one kept).
Reference: scripts/blockdiff_reference.py. Self-checks: naive float64 loops vs the float32 forward for
every logits case; bit-exact reload of every checkpoint; the block-causal mask matters and hides later
blocks exactly; every generate case re-run with the float64 forward gives the same tokens; conditioning
margins of every decision (threshold distance, top-k order, argmax gap); both branches of each
model's threshold rule fire; one case per model stops early at EOS and one runs to the end.
"""
import json
import math
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import blockdiff_reference as BD  # noqa: E402
import llada_reference as R  # noqa: E402  (safetensors I/O, checkpoint writer)
from make_golden import check_reload, dump_json, fnum  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "golden", "blockdiff")
VOCAB = 64
MASK = 63            # mask token id of all three models
BOS = 62
PROMPT_TOP = 60      # prompt ids are drawn from 0..59
MIN_THRESHOLD_MARGIN = 1e-4   # |confidence - threshold| for every masked position at every step
MIN_ORDER_MARGIN = 1e-4       # k-th minus (k+1)-th confidence when a top-k / argmax choice decides
MIN_ARGMAX_GAP = 1e-3         # top1 - top2 logit of every committed position (and AR token)


# --------------------------------------------------------------------------------------
# published config.json dialects, tiny sizes
# --------------------------------------------------------------------------------------

def sdar_config(eos):
    """Field set of JetLM/SDAR-1.7B-Chat's config.json (block_size and mask_token_id included)."""
    return {
        "architectures": ["SDARForCausalLM"],
        "auto_map": {"AutoConfig": "configuration_sdar.SDARConfig", "AutoModel": "modeling_sdar.SDARModel",
                     "AutoModelForCausalLM": "modeling_sdar.SDARForCausalLM"},
        "attention_bias": False, "attention_dropout": 0.0, "attn_implementation": "flex_attention",
        "bos_token_id": BOS, "debug": False, "eos_token_id": eos, "block_size": 4, "mask_token_id": MASK,
        "ep_size": 1, "fuse_cross_entropy": True, "head_dim": 16, "hidden_act": "silu", "hidden_size": 32,
        "initializer_range": 0.02, "intermediate_size": 64, "max_position_embeddings": 32768,
        "max_window_layers": 28, "micro_forward": False, "model_type": "sdar", "num_attention_heads": 4,
        "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_scaling": None,
        "rope_theta": 1000000, "skip_checkpoint": False, "sliding_window": None, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "transformers_version": "4.52.4", "use_cache": False, "use_deepep": False,
        "use_sliding_window": False, "vocab_size": VOCAB,
    }


def fastdllm_config(eos):
    """Qwen2.5-1.5B-Instruct's config.json fields (tied head) as rewritten for Fast_dLLM_v2_1.5B:
    architectures / auto_map / model_type Fast_dLLM_Qwen, bd_size, layer_types. No mask id in it."""
    return {
        "architectures": ["Fast_dLLM_QwenForCausalLM"],
        "auto_map": {"AutoConfig": "configuration.Fast_dLLM_QwenConfig", "AutoModel": "modeling.Fast_dLLM_QwenModel",
                     "AutoModelForCausalLM": "modeling.Fast_dLLM_QwenForCausalLM"},
        "attention_dropout": 0.0, "bd_size": 8, "bos_token_id": BOS, "eos_token_id": eos, "hidden_act": "silu",
        "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
        "layer_types": ["full_attention"] * 3, "max_position_embeddings": 32768, "max_window_layers": 21,
        "model_type": "Fast_dLLM_Qwen", "num_attention_heads": 4, "num_hidden_layers": 3, "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000.0, "sliding_window": None,
        "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.53.1", "use_cache": True,
        "use_sliding_window": False, "vocab_size": VOCAB,
    }


def llada2_config(eos):
    """inclusionAI/LLaDA2.0-mini's config.json fields (LLaDA2MoeConfig + BailingMoeV2 extras), tiny:
    1 dense layer then 2 MoE layers of 8 experts in 4 groups (top-2 experts from the best 2 groups),
    1 shared expert, partial rotary 0.5 (RoPE on 4 of the 8 head dims), q/k norm, dense bias."""
    return {
        "architectures": ["LLaDA2MoeModelLM"],
        "auto_map": {"AutoConfig": "configuration_llada2_moe.LLaDA2MoeConfig",
                     "AutoModel": "modeling_llada2_moe.LLaDA2MoeModel",
                     "AutoModelForCausalLM": "modeling_llada2_moe.LLaDA2MoeModelLM"},
        "attention_dropout": 0.0, "embedding_dropout": 0.0, "eos_token_id": eos, "first_k_dense_replace": 1,
        "head_dim": 8, "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
        "max_position_embeddings": 32768, "max_window_layers": 20, "model_type": "llada2_moe",
        "moe_intermediate_size": 16, "moe_router_enable_expert_bias": True, "moe_shared_expert_intermediate_size": 16,
        "n_group": 4, "norm_head": False, "norm_softmax": False, "norm_topk_prob": True, "num_attention_heads": 4,
        "num_experts": 8, "num_experts_per_tok": 2, "num_hidden_layers": 3, "num_key_value_heads": 2,
        "num_shared_experts": 1, "output_dropout": 0.0, "output_router_logits": False, "pad_token_id": eos,
        "partial_rotary_factor": 0.5, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 600000,
        "routed_scaling_factor": 2.5, "router_dtype": "fp32", "score_function": "sigmoid", "tie_word_embeddings": False,
        "topk_group": 2, "torch_dtype": "bfloat16", "transformers_version": "4.52.3", "use_bias": True,
        "use_cache": False, "use_qk_norm": True, "use_qkv_bias": False, "use_rmsnorm": True, "use_sliding_window": False,
        "vocab_size": VOCAB,
    }


# --------------------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------------------

def random_weights(rc, seed, head_gain):
    """Linear layers N(0, gain^2 / fan_in) (q/k gain 2, so attention is peaked and matters), biases
    N(0, 0.3^2), norm weights U(0.7, 1.3) (q/k norms U(1.5, 2.5)), router N(0, 0.5^2), expert bias
    N(0, 0.2^2); the head mixes in the embedding, scaled by head_gain / sqrt(d) (sets how peaked the
    softmax is, so both branches of the threshold rules fire); the mask token's head row is shrunk."""
    g = torch.Generator().manual_seed(seed)
    d, nh, nkv, hd, V = rc["hidden_size"], rc["num_attention_heads"], rc["num_key_value_heads"], rc["head_dim"], rc["vocab_size"]

    def lin(o, i, gain=1.0):
        return torch.randn(o, i, generator=g) * (gain / math.sqrt(i))

    def norm(n, lo=0.7, hi=1.3):
        return lo + (hi - lo) * torch.rand(n, generator=g)

    def mlp(p, m, gain=1.5):
        w[p + "gate_proj.weight"] = lin(m, d, gain)
        w[p + "up_proj.weight"] = lin(m, d, gain)
        w[p + "down_proj.weight"] = lin(d, m)

    emb = torch.randn(V, d, generator=g)
    w = {BD.embed_name(rc): emb}
    for i in range(rc["num_hidden_layers"]):
        p = "model.layers.%d." % i
        w[p + "input_layernorm.weight"] = norm(d)
        w[p + "post_attention_layernorm.weight"] = norm(d)
        if rc["qkv"] == "fused":
            a = p + "attention."
            w[a + "query_key_value.weight"] = torch.cat([lin(nh * hd, d, 2.0), lin(nkv * hd, d, 2.0), lin(nkv * hd, d)])
            if rc["bias_qkv"]:
                w[a + "query_key_value.bias"] = 0.3 * torch.randn((nh + 2 * nkv) * hd, generator=g)
            w[a + "dense.weight"] = lin(d, nh * hd)
            if rc["bias_o"]:
                w[a + "dense.bias"] = 0.3 * torch.randn(d, generator=g)
            if rc["qk_norm"]:
                w[a + "query_layernorm.weight"] = norm(hd, 1.5, 2.5)
                w[a + "key_layernorm.weight"] = norm(hd, 1.5, 2.5)
        else:
            a = p + "self_attn."
            w[a + "q_proj.weight"] = lin(nh * hd, d, 2.0)
            w[a + "k_proj.weight"] = lin(nkv * hd, d, 2.0)
            w[a + "v_proj.weight"] = lin(nkv * hd, d)
            w[a + "o_proj.weight"] = lin(d, nh * hd)
            if rc["bias_qkv"]:
                for proj, n in (("q_proj", nh * hd), ("k_proj", nkv * hd), ("v_proj", nkv * hd)):
                    w[a + proj + ".bias"] = 0.3 * torch.randn(n, generator=g)
            if rc["bias_o"]:
                w[a + "o_proj.bias"] = 0.3 * torch.randn(d, generator=g)
            if rc["qk_norm"]:
                w[a + "q_norm.weight"] = norm(hd, 1.5, 2.5)
                w[a + "k_norm.weight"] = norm(hd, 1.5, 2.5)
        if BD.is_moe_layer(rc, i):
            m = p + "mlp."
            w[m + "gate.weight"] = torch.randn(rc["num_experts"], d, generator=g) * 0.5
            w[m + "gate.expert_bias"] = torch.randn(rc["num_experts"], generator=g) * 0.2
            for e in range(rc["num_experts"]):
                mlp(m + "experts.%d." % e, rc["moe_intermediate_size"])
            if rc["num_shared_experts"]:
                mlp(m + "shared_experts.", rc["moe_intermediate_size"] * rc["num_shared_experts"])
        else:
            mlp(p + "mlp.", rc["intermediate_size"])
    w["model.norm.weight"] = norm(d)
    scale = head_gain / math.sqrt(d)
    if rc["tie_word_embeddings"]:
        w[BD.embed_name(rc)] = emb * scale
        w[BD.embed_name(rc)][MASK] *= 0.25
    else:
        w["lm_head.weight"] = (torch.randn(V, d, generator=g) + emb) * scale
        w["lm_head.weight"][MASK] *= 0.25
    assert sorted(w) == sorted(BD.tensor_names(rc))
    return w


MODELS = [
    # name, config maker, weight seed, head gain, generate block size
    ("sdar", sdar_config, 8101, 4.0, 4),
    ("fastdllm-v2", fastdllm_config, 8102, 4.0, 8),
    ("llada2-mini", llada2_config, 8103, 4.0, 8),
]

# generate cases: name, role ('eos' = must stop early at EOS, 'full' = must not meet EOS, 'any'),
# prompt length, prompt seed base, arguments besides the prompt / mask / eos
GEN = {
    "sdar": [
        ("dynamic_p8_eos", "eos", 8, 1000, dict(gen_length=16, block_length=4, denoising_steps=4,
                                                 remasking_strategy="low_confidence_dynamic", confidence_threshold=0.85)),
        ("dynamic_p6_full", "full", 6, 2000, dict(gen_length=16, block_length=4, denoising_steps=4,
                                                   remasking_strategy="low_confidence_dynamic", confidence_threshold=0.85)),
        ("static_p7", "any", 7, 3000, dict(gen_length=16, block_length=4, denoising_steps=4,
                                           remasking_strategy="low_confidence_static", confidence_threshold=0.85)),
        # 2 tokens per step: prompts whose run would take a top-k over fewer masks than k are skipped
        ("dynamic_p9_steps2", "any", 9, 4000, dict(gen_length=12, block_length=4, denoising_steps=2,
                                                   remasking_strategy="low_confidence_dynamic", confidence_threshold=0.85)),
    ],
    "fastdllm-v2": [
        ("p16_eos", "eos", 16, 1000, dict(max_new_tokens=24, threshold=0.9, small_block_size=4, block_size=8)),
        ("p11_full", "full", 11, 2000, dict(max_new_tokens=24, threshold=0.9, small_block_size=4, block_size=8)),
        ("p5", "any", 5, 3000, dict(max_new_tokens=24, threshold=0.9, small_block_size=4, block_size=8)),
        # No P == block_size case: the published loop then decodes the first block from masks alone (the
        # prompt is never seen), where all rows are equal up to rounding: not token-exact (see README).
    ],
    "llada2-mini": [
        ("p8_eos_early_stop", "eos_early", 8, 1000, dict(block_length=8, steps=4, gen_length=24, eos_early_stop=True,
                                                          minimal_topk=1, threshold=0.9)),
        ("p13_eos_no_early_stop", "eos", 13, 2000, dict(block_length=8, steps=4, gen_length=24, eos_early_stop=False,
                                                         minimal_topk=1, threshold=0.9)),
        ("p6_full", "full", 6, 3000, dict(block_length=8, steps=4, gen_length=24, eos_early_stop=True,
                                          minimal_topk=1, threshold=0.9)),
    ],
}

FUNCTION = {
    "sdar": "block_diffusion_generate (JetAstra/SDAR generate.py), greedy",
    "fastdllm-v2": "Fast_dLLM_QwenForCausalLM.generate (Fast_dLLM_v2 modeling.py), use_block_cache=False, greedy",
    "llada2-mini": "LLaDA2MoeModelLM.generate (modeling_llada2_moe.py), greedy",
}


def run_generate(name, model, prompt, args, eos):
    """-> dict(returned, kind, answer, fw, trace, call_args) for one published generate call."""
    if name == "sdar":
        call = dict(mask_id=MASK, temperature=0.0, top_k=0, top_p=1.0,
                    stopping_criteria_idx=None if eos is None else [eos], **args)
        x, fw, tr = BD.sdar_generate(model, prompt, **call)
        return dict(returned=x, kind="canvas", answer=x[len(prompt):], fw=fw, trace=tr, call=call)
    if name == "fastdllm-v2":
        call = dict(mask_id=MASK, stop_token=-1 if eos is None else eos, top_p=0.95, temperature=0.0,
                    use_block_cache=False, **args)
        ids, fw, tr = BD.fastdllm_generate(model, prompt, **call)
        return dict(returned=ids, kind="prompt_and_answer", answer=ids[len(prompt):], fw=fw, trace=tr, call=call)
    call = dict(temperature=0.0, top_p=None, top_k=None, eos_id=-1 if eos is None else eos, mask_id=MASK, **args)
    out, how, fw, tr = BD.llada2_generate(model, prompt, **call)
    ans = out[len(prompt):] if how == "early_stop" else out
    return dict(returned=out, kind="prompt_and_answer" if how == "early_stop" else "answer_only", how=how,
                answer=ans, fw=fw, trace=tr, call=call)


def margins(trace):
    den = [s for s in trace if s["kind"] == "denoise"]
    return (min((s["threshold_margin"] for s in den), default=float("inf")),
            min((s["order_margin"] for s in den), default=float("inf")),
            min((s["argmax_gap"] for s in trace), default=float("inf")))


def well_conditioned(trace):
    t, o, g = margins(trace)
    return t >= MIN_THRESHOLD_MARGIN and o >= MIN_ORDER_MARGIN and g >= MIN_ARGMAX_GAP


def draw_prompt(seed, n):
    return torch.randint(0, PROMPT_TOP, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


def conditioned_runs(name, model, n, base, args, count=60):
    """Well-conditioned no-EOS runs for prompts of length n from seeds base, base+1, ..."""
    for seed in range(base, base + count):
        prompt = draw_prompt(seed, n)
        try:
            r = run_generate(name, model, prompt, args, None)
        except BD.HazardError:
            continue
        if well_conditioned(r["trace"]) and MASK not in r["answer"]:
            yield seed, prompt, r


def eligible(answer, B):
    """Tokens whose first occurrence in an answer lies at index >= B and leaves at least a block after it."""
    first = {}
    for i, t in enumerate(answer):
        first.setdefault(t, i)
    return sorted([t for t, i in first.items() if B <= i < len(answer) - B and t != MASK], key=lambda t: first[t])


def choose_cases(name, model, B):
    """Pick prompts and the EOS id: the 'full' case first (its answer must avoid EOS), then the EOS
    cases (EOS = a token the greedy model produces mid-answer there, committed by a denoising step, not
    as Fast-dLLM's AR token), then the others."""
    specs = GEN[name]
    chosen = {}
    full = next(s for s in specs if s[1] == "full")
    seed, prompt, r = next(conditioned_runs(name, model, full[2], full[3], full[4]))
    chosen[full[0]] = (seed, prompt)
    banned = set(r["answer"]) | set(prompt)
    eos = None
    for cname, role, n, base, args in specs:
        if not role.startswith("eos"):
            continue
        ok = False
        for seed, prompt, r in conditioned_runs(name, model, n, base, args):
            cands = [t for t in eligible(r["answer"], B) if t not in banned and t not in prompt] if eos is None else \
                ([eos] if eos in eligible(r["answer"], B) and eos not in prompt else [])
            for t in cands:
                r2 = run_generate(name, model, prompt, args, t)
                early = MASK in r2["answer"] if name == "sdar" else len(r2["answer"]) < len(r["answer"])
                by_denoise = any(t in st["tokens"] for st in r2["trace"] if st["kind"] == "denoise")
                if t in r2["answer"] and early and by_denoise and \
                        (role != "eos_early" or r2.get("how") == "early_stop"):
                    eos, ok = t, True
                    chosen[cname] = (seed, prompt)
                    break
            if ok:
                break
        assert ok, "no EOS case found for " + cname
    for cname, role, n, base, args in specs:
        if role == "any":
            seed, prompt, r = next((s, p, rr) for s, p, rr in conditioned_runs(name, model, n, base, args) if eos not in p)
            chosen[cname] = (seed, prompt)
    assert all(eos not in p for _, p in chosen.values())
    return eos, chosen


def compact_steps(trace):
    out = []
    for s in trace:
        e = {"kind": s["kind"], "positions": s["positions"], "tokens": s["tokens"]}
        for k in ("block", "step", "branch", "n_masked", "k", "n_above_threshold"):
            if k in s:
                e[k] = s[k]
        out.append(e)
    return out


def generate_cases(name, model, model64, eos, chosen, rc):
    cases, branches = [], {}
    for cname, role, n, base, args in GEN[name]:
        seed, prompt = chosen[cname]
        r = run_generate(name, model, prompt, args, eos)
        r64 = run_generate(name, model64, prompt, args, eos)
        assert r64["returned"] == r["returned"], "float64 rerun differs: " + cname
        assert well_conditioned(r["trace"]), cname
        t, o, g = margins(r["trace"])
        B = args.get("block_length", args.get("block_size"))
        hit = eos in r["answer"]
        until = r["answer"][:r["answer"].index(eos) + 1] if hit else list(r["answer"])
        if role.startswith("eos"):
            assert hit and r["answer"][-1] == eos or name == "sdar"
        if role == "full":
            assert not hit
        bc = {}
        for s in r["trace"]:
            if s["kind"] == "denoise":
                bc[s["branch"]] = bc.get(s["branch"], 0) + 1
                branches[s["branch"]] = branches.get(s["branch"], 0) + 1
        fwc = sum(r["fw"].values())
        cases.append({
            "name": cname, "function": FUNCTION[name], "prompt_ids": prompt, "prompt_seed": seed,
            "prompt_length": n, "prompt_is_block_multiple": n % B == 0,
            "arguments": r["call"], "returned_ids": r["returned"], "returned_kind": r["kind"],
            **({"return_path": r["how"]} if "how" in r else {}),
            "answer_ids": r["answer"], "answer_until_eos": until, "hit_eos": hit,
            "forward_count": fwc, "forwards": r["fw"], "branch_counts": bc,
            "steps": compact_steps(r["trace"]),
            "min_threshold_margin": fnum(t), "min_order_margin": fnum(o), "min_argmax_gap": fnum(g),
            "float64_rerun_identical": True,
        })
        print("  gen %-30s P=%2d answer %s fw %d %s branches %s margins thr %.1e ord %.1e gap %.1e"
              % (cname, n, r["answer"], fwc, r["fw"], bc, t, o, g))
    return cases, branches


def logits_cases(name, rc, model, w, B):
    g = torch.Generator().manual_seed(4343 + len(name))
    ids0 = torch.randint(0, PROMPT_TOP, (10,), generator=g).tolist()
    ids1 = torch.randint(0, PROMPT_TOP, (16,), generator=g).tolist()
    ids1[9:] = [MASK] * 7
    ids1[12] = int(torch.randint(0, PROMPT_TOP, (1,), generator=g))
    ids2 = torch.randint(0, PROMPT_TOP, (13,), generator=g).tolist()
    ids2[6:] = [MASK] * 7
    cases, tensors = [], {}
    for ci, (ids, desc) in enumerate([
            (ids0, "10 ordinary ids (not a multiple of the block size)"),
            (ids1, "16 ids: 9 prompt ids, then masks with one id at position 12 (a generation canvas)"),
            (ids2, "13 ids: 6 prompt ids then 7 masks (the last block is partial)")]):
        lg = model.logits(ids, B)
        f64 = BD.naive_forward(rc, w, ids, B)
        diff = float((lg.double() - torch.from_numpy(f64)).abs().max())
        assert diff < 1e-3, "naive float64 forward disagrees: %g" % diff
        tname = "case%d" % ci
        tensors[tname] = lg[None]
        cases.append({"name": tname, "description": desc, "tensor": tname, "shape": [1, len(ids), rc["vocab_size"]],
                      "input_ids": [ids], "block_size": B, "positions": [list(range(len(ids)))],
                      "argmax": [lg.argmax(-1).tolist()], "max_abs_logit": float(lg.abs().max()),
                      "max_abs_diff_vs_float64_naive": diff})
        print("  logits %s L=%d: max|logit| %.2f, f32 vs naive f64 %.2e" % (tname, len(ids), float(lg.abs().max()), diff))
    path = os.path.join(OUT, name, "logits.safetensors")
    R.save_safetensors(path, tensors, "F32", metadata={"format": "pt"})
    back, _, _ = R.read_safetensors(path)
    assert all(torch.equal(back[k], v) for k, v in tensors.items())
    return cases


def mask_checks(model, B):
    """A token change in block 1 leaves block 0's rows unchanged (< 1e-5), moves every row of blocks >= 1
    (also the earlier rows of its own block: bidirectional inside a block) by > 0.05; the block-causal
    logits differ from plain causal (B = 1) ones."""
    ids = draw_prompt(99, 3 * B)
    ids2 = list(ids)
    ids2[B + B // 2] = (ids2[B + B // 2] + 1) % PROMPT_TOP
    d = (model.logits(ids, B) - model.logits(ids2, B)).abs().amax(-1)
    # (not bit-exact for the MoE: which rows an expert's matmul gets changes with the routing)
    assert float(d[:B].max()) < 1e-5, "block 0 saw a later block"
    seen = float(d[B:].min())
    assert seen > 0.05, "a token does not matter enough to its own and later blocks: %g" % seen
    causal_diff = float((model.logits(ids, B) - model.logits(ids, 1)).abs().max())
    assert causal_diff > 0.05
    return {"block0_max_change": float(d[:B].max()), "later_rows_min_change": seen, "block_causal_vs_causal_max_diff": causal_diff}


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    if os.path.isdir(OUT):
        for e in os.listdir(OUT):
            if e != "README.md":
                p = os.path.join(OUT, e)
                shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    os.makedirs(OUT, exist_ok=True)
    golden = {"format_version": 1, "generator": "/usr/bin/python3 scripts/make_blockdiff_golden.py",
              "reference": "scripts/blockdiff_reference.py", "torch_version": torch.__version__,
              "conditioning_thresholds": {"min_threshold_margin": MIN_THRESHOLD_MARGIN,
                                          "min_order_margin": MIN_ORDER_MARGIN, "min_argmax_gap": MIN_ARGMAX_GAP},
              "models": {}}
    for name, make_cfg, seed, gain, B in MODELS:
        print("model", name)
        rc0 = BD.resolve_config(make_cfg(None))
        w0 = random_weights(rc0, seed, gain)
        model0 = BD.BlockDiffRef(rc0, w0)
        eos, chosen = choose_cases(name, model0, B)
        d = os.path.join(OUT, name)
        cfg = make_cfg(eos)
        R.save_checkpoint(d, cfg, w0, "F32")
        cfg2, w = check_reload(d, w0, "F32")
        assert cfg2 == cfg
        rc = BD.resolve_config(cfg2)
        model, model64 = BD.BlockDiffRef(rc, w), BD.BlockDiffRef(rc, w, torch.float64)
        entry = {
            "dir": "blockdiff/" + name, "architecture": rc["architecture"], "model_type": cfg["model_type"],
            "storage_dtype": "F32", "weight_seed": seed, "head_gain": gain, "n_params": R.count_params(w),
            "block_size": B,
            "block_size_source": {"sdar": "config.json block_size (passed as generate block_length)",
                                  "fastdllm-v2": "config.json bd_size (passed as generate block_size)",
                                  "llada2-mini": "not in config.json: generate argument block_length"}[name],
            "mask_token_id": MASK,
            "mask_token_id_source": "config.json mask_token_id" if name == "sdar" else
            "not in config.json: generate argument (" + ("mask_id" if name != "sdar" else "") + ")",
            "eos_token_id": eos,
            "eos_token_id_source": {"sdar": "config.json eos_token_id, passed as stopping_criteria_idx [eos]",
                                    "fastdllm-v2": "config.json eos_token_id, passed as generate stop_token",
                                    "llada2-mini": "config.json eos_token_id (= pad_token_id), passed as generate eos_id"}[name],
            "resolved_config": rc, "attention_mask_checks": mask_checks(model, B),
            "logits_file": "blockdiff/%s/logits.safetensors" % name,
        }
        entry["logits_cases"] = logits_cases(name, rc, model, w, B)
        entry["generate_cases"], br = generate_cases(name, model, model64, eos, chosen, rc)
        assert len(br) == 2, "both branches of the threshold rule must fire: %s" % br
        entry["branch_counts_total"] = br
        entry["files"] = sorted(os.listdir(d))
        golden["models"][name] = entry
        print("  eos %d, branches %s" % (eos, br))
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        f.write(dump_json(golden) + "\n")
    with open(os.path.join(OUT, "golden.json")) as f:
        assert json.load(f) == json.loads(json.dumps(golden))
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fs in os.walk(OUT) for fn in fs)
    print("total size %.1f KiB" % (total / 1024))
    assert total < 1024 * 1024


if __name__ == "__main__":
    main()
