#!/usr/bin/python3
"""Time LLaDA generate() in eager PyTorch (CPU) on a ~36M-parameter random checkpoint.

    /usr/bin/python3 scripts/bench_generate_torch.py --out /tmp/llada-bench --threads 4

Model (when it has to be built): d_model 512, n_layers 8, n_heads 8 (= n_kv_heads),
mlp_hidden_size 1536, vocab 8192 (eos 8190, mask 8191), untied head:
  wte 8192*512 = 4,194,304; head 4,194,304; per layer 4*512*512 + 3*512*1536 + 2*512
  = 3,408,896, x8 = 27,271,168; ln_f 512  ->  35,660,288 parameters.
Weights are random from --seed (same init as the goldens: scripts/llada_reference.py
random_weights) and stored BF16 (default) or F32 (--dtype f32) in --out/model.safetensors
with config.json; an existing --out with a config.json is loaded as is.

Times generate(gen_length 128, steps 128, block_length 32, greedy, low_confidence) with a
32-token prompt drawn from --seed, under torch.no_grad(), eager, torch.set_num_threads.
Prints seconds, tokens/s and the generated ids so another engine can check it produced the
same tokens. --margins re-runs with the conditioning trace (smallest top-k confidence
margin and top1-top2 logit gap over all steps) to tell whether a mismatch could be a
near-tie. Default seed 7 (bf16): min top-k margin 1.0e-3, min top1-top2 logit gap 7.7e-4
(seed 1234 had a gap of 6.9e-5, too close for a cross-engine token-exact check).
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llada_reference as R  # noqa: E402


def build_or_load(out, dtype, seed):
    if os.path.exists(os.path.join(out, "config.json")):
        cfg, w, info = R.load_checkpoint(out)
        print("loaded %s (%s), %d params" % (out, sorted({i["dtype"] for i in info.values()}),
                                             R.count_params(w)))
        return cfg, w
    cfg = R.llada_config(d_model=512, n_heads=8, n_kv_heads=8, n_layers=8,
                         mlp_hidden_size=1536, vocab_size=8192, weight_tying=False,
                         rope_theta=10000.0, max_sequence_length=4096,
                         eos_token_id=8190, mask_token_id=8191)
    w0 = R.random_weights(cfg, seed)
    R.save_checkpoint(out, cfg, w0, dtype)
    cfg, w, _ = R.load_checkpoint(out)  # compute from the stored (rounded) weights
    print("built %s (%s, seed %d), %d params" % (out, dtype, seed, R.count_params(w)))
    return cfg, w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="checkpoint directory (built if absent)")
    ap.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--gen-length", type=int, default=128)
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--block-length", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=1, help="untimed forward passes first")
    ap.add_argument("--margins", action="store_true", help="also run the traced generate")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    cfg, w = build_or_load(a.out, {"bf16": "BF16", "f32": "F32"}[a.dtype], a.seed)
    model = R.LladaRef(cfg, w)
    mask_id = cfg["mask_token_id"]
    g = torch.Generator().manual_seed(a.seed + 1)
    prompt = torch.randint(0, cfg["vocab_size"] - 2, (a.prompt_len,), generator=g).tolist()
    print("prompt_ids=" + ",".join(map(str, prompt)))

    with torch.no_grad():
        x = torch.tensor([prompt + [mask_id] * a.gen_length])
        for _ in range(a.warmup):
            model(x)
        t0, c0 = time.perf_counter(), time.process_time()
        out, _ = R.generate(model, prompt, steps=a.steps, gen_length=a.gen_length,
                            block_length=a.block_length, temperature=0.0, cfg_scale=0.0,
                            remasking="low_confidence", mask_id=mask_id, trace=False)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
    print("threads=%d torch=%s" % (torch.get_num_threads(), torch.__version__))
    print("seconds=%.3f" % dt)
    print("cpu_seconds=%.3f" % dc)  # at 1 thread: what an undisturbed core takes (shared machines)
    print("tokens_per_s=%.2f" % (a.gen_length / dt))
    print("steps_per_s=%.2f" % (a.steps / dt))
    print("generated_ids=" + ",".join(map(str, out[a.prompt_len:])))
    if mask_id in out:
        print("WARNING: the mask token was predicted and left in the canvas")
    if a.margins:
        out2, tr = R.generate(model, prompt, steps=a.steps, gen_length=a.gen_length,
                              block_length=a.block_length, temperature=0.0, cfg_scale=0.0,
                              remasking="low_confidence", mask_id=mask_id, trace=True)
        assert out2 == out
        mm = min(s["topk_margin"] for s in tr["steps"])
        mg = min(s["argmax_gap"] for s in tr["steps"])
        print("min_topk_margin=%.3e min_argmax_gap=%.3e" % (mm, mg))
        if mm < 1e-5 or mg < 1e-5:
            print("WARNING: near-tie; token-exact comparison may be fragile")


if __name__ == "__main__":
    main()
