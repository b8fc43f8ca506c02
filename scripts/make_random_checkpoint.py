#!/usr/bin/env python3
"""Random-weight checkpoints at the real sizes of published dLLMs, for benchmarks only (never committed).

    /usr/bin/python3 scripts/make_random_checkpoint.py --shape llada-8b   --out /tmp/llada-8b-random
    /usr/bin/python3 scripts/make_random_checkpoint.py --shape lladamoe-7b --out /tmp/lladamoe-7b-random
    /usr/bin/python3 scripts/make_random_checkpoint.py --shape fastdllm-v2-1.5b --out /tmp/fastdllm-v2-1.5b-random
    /usr/bin/python3 scripts/make_random_checkpoint.py --shape sdar-1.7b --out /tmp/sdar-1.7b-random

llada-8b: tests/golden/configs/llada-8b-config.json (LLaDA-8B's published config) with its tensor names.
lladamoe-7b: inclusionAI/LLaDA-MoE-7B-A1B's shape as public descriptions give it (16 layers, hidden 2048,
16 heads, 64 experts of width 1024, top-8, every layer MoE, q/k RMSNorm, vocab 157184, mask 156895); the
published config.json could not be downloaded here, so field values the forward does not read are defaults.
Weights are N(0, 0.02) (norm weights 1) stored as BF16 in safetensors shards of at most 4 GiB with a
model.safetensors.index.json. Seeded, so a re-run writes the same bytes.
"""
import argparse, json, os, struct
import torch

def llada_8b():
    with open(os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "configs", "llada-8b-config.json")) as f:
        cfg = json.load(f)
    d, L, f_, v, h = cfg["d_model"], cfg["n_layers"], cfg["mlp_hidden_size"], cfg["embedding_size"], cfg["n_heads"]
    kv = cfg.get("n_kv_heads") or h
    hd = d // h
    tensors = [("model.transformer.wte.weight", (v, d))]
    for i in range(L):
        p = f"model.transformer.blocks.{i}."
        tensors += [(p + "attn_norm.weight", (d,)), (p + "q_proj.weight", (h * hd, d)), (p + "k_proj.weight", (kv * hd, d)),
                    (p + "v_proj.weight", (kv * hd, d)), (p + "attn_out.weight", (d, h * hd)), (p + "ff_norm.weight", (d,)),
                    (p + "ff_proj.weight", (f_, d)), (p + "up_proj.weight", (f_, d)), (p + "ff_out.weight", (d, f_))]
    tensors += [("model.transformer.ln_f.weight", (d,)), ("model.transformer.ff_out.weight", (v, d))]
    return cfg, tensors

def lladamoe_7b():
    d, L, h, kv, e, k, fe, v = 2048, 16, 16, 16, 64, 8, 1024, 157184
    hd = d // h
    cfg = {
        "architectures": ["LLaDAMoEModelLM"], "model_type": "llada", "hidden_size": d, "num_hidden_layers": L,
        "num_attention_heads": h, "num_key_value_heads": kv, "num_experts": e, "num_experts_per_tok": k,
        "expert_intermediate_size": fe, "dense_intermediate_size": 8192, "moe_layer_freq": [1] * L,
        "shared_expert_intermediate_size": None, "moe_router_enable_expert_bias": False, "norm_topk_prob": False,
        "qk_layernorm": True, "attention_bias": False, "hidden_act": "silu", "vocab_size": v,
        "max_position_embeddings": 8192, "rope_theta": 50000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
        "router_aux_loss_coef": 0.01, "eos_token_id": 156892, "pad_token_id": 156892, "mask_token_id": 156895,
        "partial_rotary_factor": 1.0, "rope_scaling": None, "clip_qkv": None, "torch_dtype": "bfloat16",
    }
    tensors = [("model.embed_tokens.weight", (v, d))]
    for i in range(L):
        p = f"model.layers.{i}."
        tensors += [(p + "input_layernorm.weight", (d,)), (p + "self_attn.q_proj.weight", (h * hd, d)),
                    (p + "self_attn.k_proj.weight", (kv * hd, d)), (p + "self_attn.v_proj.weight", (kv * hd, d)),
                    (p + "self_attn.q_norm.weight", (hd,)), (p + "self_attn.k_norm.weight", (hd,)),
                    (p + "self_attn.o_proj.weight", (d, h * hd)), (p + "post_attention_layernorm.weight", (d,)),
                    (p + "mlp.gate.weight", (e, d))]
        for j in range(e):
            q = f"{p}mlp.experts.{j}."
            tensors += [(q + "gate_proj.weight", (fe, d)), (q + "up_proj.weight", (fe, d)), (q + "down_proj.weight", (d, fe))]
    tensors += [("model.norm.weight", (d,)), ("lm_head.weight", (v, d))]
    return cfg, tensors

def qwen_block(shape):
    """Fast-dLLM v2 1.5B (Qwen2.5-1.5B's published shape: q/k/v biases, tied head, bd_size 32, mask 151665) or
    SDAR 1.7B (Qwen3-1.7B's: q/k RMSNorm, head_dim 128, tied head, blocks of 4, mask 151669)."""
    if shape == "fastdllm-v2-1.5b":
        d, L, h, kv, hd, f, v = 1536, 28, 12, 2, 128, 8960, 151936
        cfg = {"architectures": ["Fast_dLLM_QwenForCausalLM"], "model_type": "Fast_dLLM_Qwen", "bd_size": 32, "mask_token_id": 151665}
        bias, qk_norm = True, False
    else:
        d, L, h, kv, hd, f, v = 2048, 28, 16, 8, 128, 6144, 151936
        cfg = {"architectures": ["SDARForCausalLM"], "model_type": "sdar", "block_size": 4, "mask_token_id": 151669, "head_dim": hd}
        bias, qk_norm = False, True
    cfg.update({"hidden_size": d, "num_hidden_layers": L, "num_attention_heads": h, "num_key_value_heads": kv,
                "intermediate_size": f, "vocab_size": v, "max_position_embeddings": 32768, "rope_theta": 1000000.0,
                "rms_norm_eps": 1e-6, "tie_word_embeddings": True, "hidden_act": "silu", "eos_token_id": 151645,
                "bos_token_id": 151643, "use_sliding_window": False, "torch_dtype": "bfloat16"})
    tensors = [("model.embed_tokens.weight", (v, d))]
    for i in range(L):
        p = f"model.layers.{i}."
        tensors += [(p + "input_layernorm.weight", (d,)), (p + "self_attn.q_proj.weight", (h * hd, d)),
                    (p + "self_attn.k_proj.weight", (kv * hd, d)), (p + "self_attn.v_proj.weight", (kv * hd, d))]
        if bias:
            tensors += [(p + "self_attn.q_proj.bias", (h * hd,)), (p + "self_attn.k_proj.bias", (kv * hd,)), (p + "self_attn.v_proj.bias", (kv * hd,))]
        if qk_norm:
            tensors += [(p + "self_attn.q_norm.weight", (hd,)), (p + "self_attn.k_norm.weight", (hd,))]
        tensors += [(p + "self_attn.o_proj.weight", (d, h * hd)), (p + "post_attention_layernorm.weight", (d,)),
                    (p + "mlp.gate_proj.weight", (f, d)), (p + "mlp.up_proj.weight", (f, d)), (p + "mlp.down_proj.weight", (d, f))]
    tensors += [("model.norm.weight", (d,))]
    return cfg, tensors

def write_shard(path, items):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, data in items:
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for _, _, data in items: f.write(data)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=["llada-8b", "lladamoe-7b", "fastdllm-v2-1.5b", "sdar-1.7b"], required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    cfg, tensors = llada_8b() if a.shape == "llada-8b" else lladamoe_7b() if a.shape == "lladamoe-7b" else qwen_block(a.shape)
    os.makedirs(a.out, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    limit, shards, current, size, weight_map = 4 << 30, [], [], 0, {}
    def flush():
        nonlocal current, size
        if current: shards.append(current); current, size = [], 0
    for name, shape in tensors:
        t = (torch.zeros(shape) if name.endswith(".bias") else torch.ones(shape)) if len(shape) == 1 else torch.randn(shape, generator=g) * 0.02
        data = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
        if size + len(data) > limit: flush()
        current.append((name, shape, data)); size += len(data)
    flush()
    total = 0
    for i, items in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write_shard(os.path.join(a.out, fname), items)
        for name, _, data in items: weight_map[name] = fname; total += len(data)
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    print(f"{a.shape}: {sum(1 for _ in tensors)} tensors, {total / 2**30:.2f} GiB in {len(shards)} shards -> {a.out}")

if __name__ == "__main__":
    main()
