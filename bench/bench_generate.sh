#!/usr/bin/env bash
# Side-by-side: one full reference generate (gen 128, steps 128, block 32, greedy) on a ~36M-parameter
# random LLaDA checkpoint, PyTorch eager (scripts/bench_generate_torch.py) vs dllm, same weights,
# same threads, same prompt. Prints both timings, the ratio, and whether the tokens agree.
# Usage: bench/bench_generate.sh [threads] [bf16|f32]   (needs Debian's python3-torch)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}; dtype=${2:-bf16}
dir=${BENCH_MODEL_DIR:-/tmp/dllm-bench-36m-$dtype}
torch_out=$(/usr/bin/python3 scripts/bench_generate_torch.py --out "$dir" --dtype "$dtype" --threads "$threads")
echo "$torch_out" | grep -vE "^(prompt_ids|generated_ids)="
prompt=$(echo "$torch_out" | sed -n 's/^prompt_ids=//p')
torch_ids=$(echo "$torch_out" | sed -n 's/^generated_ids=//p')
torch_s=$(echo "$torch_out" | sed -n 's/^seconds=//p')
./dllm generate --model "$dir" --prompt-ids "$prompt" --gen-length 128 --steps 128 --block-length 32 \
  --output ids --threads "$threads" -v >/tmp/dllm-bench-ids 2>/tmp/dllm-bench-err
cat /tmp/dllm-bench-err
dllm_s=$(grep -oE '[0-9.]+ s,' /tmp/dllm-bench-err | grep -oE '[0-9.]+')
same=$([ "$(cat /tmp/dllm-bench-ids)" = "$torch_ids" ] && echo yes || echo NO)
echo "threads=$threads dtype=$dtype torch_s=$torch_s dllm_s=$dllm_s speedup=$(echo "scale=2; $torch_s / $dllm_s" | bc) same_tokens=$same"
