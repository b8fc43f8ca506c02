#!/usr/bin/env bash
# Side-by-side training throughput: PyTorch eager (bench/bench_train_torch.py) vs dllm
# (Dllm.Bench train: TrainStep.Run, the step `dllm train` runs), same LLaDA config (d 256, 4 layers,
# 4 heads, MLP 704, byte vocab 262), masked-diffusion loss, AdamW, clipping, batch 16 x 128, same
# threads, same protocol (one warm-up step, then 20 timed steps).
# Usage: bench/bench_train.sh [threads] [rounds]   (needs Debian's python3-torch)
# PyTorch gets OpenBLAS when Debian's libopenblas0-pthread is installed (see bench/bench_common.sh).
# BASE_BENCH=/path/to/another/Dllm.Bench.dll also times that build in the same rounds (before/after).
# Each round runs the contenders back to back; the last lines give each one's median over the
# rounds, by wall clock and per CPU-second (at 1 thread, the speed of an undisturbed core).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}; rounds=${2:-1}
. bench/bench_common.sh
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p"; }
declare -A all
for r in $(seq "$rounds"); do
  t=$(/usr/bin/python3 bench/bench_train_torch.py --threads "$threads" --steps 20)
  d=$(dotnet "$bench" train --threads "$threads" --steps 20)
  all[torch]+=" $(echo "$t" | field torch_tokens_per_s)"; all[torch_cpu]+=" $(echo "$t" | field torch_tokens_per_cpu_s)"
  all[dllm]+=" $(echo "$d" | field dllm_tokens_per_s)"; all[dllm_cpu]+=" $(echo "$d" | field dllm_tokens_per_cpu_s)"
  line="round $r threads=$threads | $t | $d"
  if [ -n "${BASE_BENCH:-}" ]; then
    b=$(dotnet "$BASE_BENCH" train --threads "$threads" --steps 20)
    all[base]+=" $(echo "$b" | field dllm_tokens_per_s)"; all[base_cpu]+=" $(echo "$b" | field dllm_tokens_per_cpu_s)"
    line="$line | base: $b"
  fi
  echo "$line"
done
summary "tok/s" 1
