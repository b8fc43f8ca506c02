#!/usr/bin/env bash
# Side-by-side training throughput: PyTorch eager (bench/bench_train_torch.py) vs dllm
# (Dllm.Bench train: TrainStep.Run, the step `dllm train` runs), same LLaDA config (d 256, 4 layers,
# 4 heads, MLP 704, byte vocab 262), masked-diffusion loss, AdamW, clipping, batch 16 x 128, same
# threads, same protocol (one warm-up step, then 20 timed steps).
# Usage: bench/bench_train.sh [threads] [rounds]   (needs Debian's python3-torch)
# PyTorch gets OpenBLAS (Debian libopenblas0-pthread) through LD_LIBRARY_PATH when it is installed:
# Debian's torch calls the system BLAS, and the default netlib one is ~15x slower.
# BASE_BENCH=/path/to/another/Dllm.Bench.dll also times that build in the same rounds (before/after).
# Each round runs the contenders back to back; the last lines give each one's median over the
# rounds, by wall clock and per CPU-second (at 1 thread, the speed of an undisturbed core).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}; rounds=${2:-1}
openblas=/usr/lib/x86_64-linux-gnu/openblas-pthread
[ -e "$openblas/libblas.so.3" ] && export LD_LIBRARY_PATH="$openblas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
dotnet build bench/Dllm.Bench -c Release -nologo -v q >/dev/null
bench=bench/Dllm.Bench/bin/Release/net10.0/Dllm.Bench.dll
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p"; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
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
for kind in "" _cpu; do
  tm=$(echo "${all[torch$kind]}" | median); dm=$(echo "${all[dllm$kind]}" | median)
  line="median${kind:- wall} threads=$threads torch=$tm dllm=$dm ratio=$(echo "scale=2; $dm / $tm" | bc)"
  if [ -n "${BASE_BENCH:-}" ]; then bm=$(echo "${all[base$kind]}" | median); line="$line base=$bm base_ratio=$(echo "scale=2; $bm / $tm" | bc)"; fi
  echo "$line tokens/s"
done
