"""Training throughput of PyTorch eager on the same LLaDA config, objective and batch as
`dllm train` (masked diffusion loss, AdamW), for bench/bench_train.sh. Run with /usr/bin/python3."""
import argparse, os, sys, time
import torch
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
import llada_reference as R

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=os.cpu_count())
ap.add_argument("--steps", type=int, default=20)
ap.add_argument("--batch-size", type=int, default=16)
ap.add_argument("--seq-len", type=int, default=128)
ap.add_argument("--d-model", type=int, default=256)
ap.add_argument("--layers", type=int, default=4)
ap.add_argument("--heads", type=int, default=4)
ap.add_argument("--mlp-hidden", type=int, default=704)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
V, MASK = 262, 258
cfg = R.llada_config(a.d_model, a.heads, a.heads, a.layers, a.mlp_hidden, V, max_sequence_length=max(512, a.seq_len),
                     eos_token_id=257, mask_token_id=MASK)
weights = {k: (v.float() * 1.0).requires_grad_(True) for k, v in R.random_weights(cfg, 1).items()}
model = R.LladaRef(cfg, weights)
opt = torch.optim.AdamW(list(weights.values()), lr=1e-3, weight_decay=0.1)
B, L = a.batch_size, a.seq_len

def step():
    x = torch.randint(0, 256, (B, L))
    p = (1 - 1e-3) * torch.rand(B, 1) + 1e-3
    masked = torch.rand(B, L) < p
    logits = model.forward(torch.where(masked, torch.full_like(x, MASK), x))
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, V), x.reshape(-1), reduction="none").reshape(B, L)
    loss = (ce * masked / p).sum() / (B * L)
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(list(weights.values()), 1.0)
    opt.step()

step()  # warm-up
t, c = time.perf_counter(), time.process_time()
for _ in range(a.steps): step()
dt, dc = time.perf_counter() - t, time.process_time() - c
# Per CPU-second of the process: at 1 thread, what one undisturbed core gives (shared machines).
print(f"torch_tokens_per_s={a.steps * B * L / dt:.0f} torch_tokens_per_cpu_s={a.steps * B * L / dc:.0f} "
      f"threads={torch.get_num_threads()} torch={torch.__version__}")
