#!/usr/bin/env bash
# Side-by-side: one full reference generate (gen 128, steps 128, block 32, greedy) on a ~36M-parameter
# random LLaDA checkpoint, PyTorch eager (scripts/bench_generate_torch.py) vs dllm (Dllm.Bench
# generate: the sampler and engine `dllm generate` runs), same weights, same threads, same prompt.
# Prints both timings (wall and process CPU seconds of the generate alone), the ratios, and whether
# the tokens agree.
# Usage: bench/bench_generate.sh [threads] [bf16|f32] [rounds]   (needs Debian's python3-torch)
# PyTorch gets OpenBLAS when Debian's libopenblas0-pthread is installed (see bench/bench_common.sh).
# BASE_BENCH=/path/to/another/Dllm.Bench.dll also times that build in the same rounds (before/after).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}; dtype=${2:-bf16}; rounds=${3:-1}
dir=${BENCH_MODEL_DIR:-/tmp/dllm-bench-36m-$dtype}
. bench/bench_common.sh
val() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" | head -1; }
ids() { sed -n 's/^generated_ids=//p'; }
declare -A all
for r in $(seq "$rounds"); do
  t=$(/usr/bin/python3 scripts/bench_generate_torch.py --out "$dir" --dtype "$dtype" --threads "$threads")
  prompt=$(echo "$t" | sed -n 's/^prompt_ids=//p')
  d=$(dotnet "$bench" generate --model "$dir" --prompt-ids "$prompt" --threads "$threads")
  same=$([ "$(echo "$d" | ids)" = "$(echo "$t" | ids)" ] && echo yes || echo NO)
  all[torch]+=" $(echo "$t" | val seconds)"; all[torch_cpu]+=" $(echo "$t" | val cpu_seconds)"
  all[dllm]+=" $(echo "$d" | val dllm_seconds)"; all[dllm_cpu]+=" $(echo "$d" | val dllm_cpu_seconds)"
  line="round $r threads=$threads dtype=$dtype torch_s=$(echo "$t" | val seconds) torch_cpu_s=$(echo "$t" | val cpu_seconds) $(echo "$d" | head -1) same_tokens=$same"
  if [ -n "${BASE_BENCH:-}" ]; then
    b=$(dotnet "$BASE_BENCH" generate --model "$dir" --prompt-ids "$prompt" --threads "$threads")
    all[base]+=" $(echo "$b" | val dllm_seconds)"; all[base_cpu]+=" $(echo "$b" | val dllm_cpu_seconds)"
    line="$line | base: $(echo "$b" | head -1) base_same_tokens=$([ "$(echo "$b" | ids)" = "$(echo "$t" | ids)" ] && echo yes || echo NO)"
  fi
  echo "$line"
done
summary "s" 0
