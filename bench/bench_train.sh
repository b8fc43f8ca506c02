#!/usr/bin/env bash
# Side-by-side training throughput: PyTorch eager vs dllm train, same LLaDA config (d 256, 4 layers,
# 4 heads, MLP 704, byte vocab 262), masked-diffusion loss, AdamW, batch 16 x 128, same threads.
# Usage: bench/bench_train.sh [threads] [repeats]   (needs Debian's python3-torch)
# DLLM_BASE=/path/to/other/Dllm.Cli.dll also times that build (e.g. a copy of the previous
# commit's bin/Release/net10.0) in the same rounds, for before/after ratios. Each round runs the
# contenders back to back; the last line gives each one's median over the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}; repeats=${2:-1}
./dllm --help >/dev/null  # build once, outside the timed runs
dll=src/Dllm.Cli/bin/Release/net10.0/Dllm.Cli.dll
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
dllm_tps() { # $1 = Dllm.Cli.dll; prints the trainer's tokens/s at step 30 (JIT warm-up included)
  rm -rf "$out/run"
  dotnet "$1" train --data data/kjv-excerpt.txt --out "$out/run" --steps 30 --batch-size 16 --seq-len 128 \
    --d-model 256 --layers 4 --heads 4 --warmup 5 --save-every 1000 --threads "$threads" 2>&1 \
    | sed -n 's/^step 30\/30 .* \([0-9]*\) tok\/s$/\1/p'
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
torch_all=""; dllm_all=""; base_all=""
for r in $(seq "$repeats"); do
  t=$(/usr/bin/python3 bench/bench_train_torch.py --threads "$threads" --steps 20 | sed -n 's/^torch_tokens_per_s=\([0-9]*\).*/\1/p')
  d=$(dllm_tps "$dll")
  line="round $r threads=$threads torch_tok_s=$t dllm_tok_s=$d"
  torch_all="$torch_all $t"; dllm_all="$dllm_all $d"
  if [ -n "${DLLM_BASE:-}" ]; then b=$(dllm_tps "$DLLM_BASE"); base_all="$base_all $b"; line="$line base_tok_s=$b"; fi
  echo "$line"
done
tm=$(echo "$torch_all" | median); dm=$(echo "$dllm_all" | median)
line="median threads=$threads torch_tok_s=$tm dllm_tok_s=$dm ratio=$(echo "scale=2; $dm / $tm" | bc)"
if [ -n "$base_all" ]; then bm=$(echo "$base_all" | median); line="$line base_tok_s=$bm base_ratio=$(echo "scale=2; $bm / $tm" | bc)"; fi
echo "$line"
