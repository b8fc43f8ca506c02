#!/usr/bin/env bash
# Side-by-side training throughput: PyTorch eager vs dllm train, same LLaDA config (d 256, 4 layers,
# 4 heads, MLP 704, byte vocab 262), masked-diffusion loss, AdamW, batch 16 x 128, same threads.
# Usage: bench/bench_train.sh [threads]   (needs Debian's python3-torch)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
/usr/bin/python3 bench/bench_train_torch.py --threads "$threads" --steps 20
out=$(mktemp -d)
./dllm train --data data/kjv-excerpt.txt --out "$out/run" --steps 30 --batch-size 16 --seq-len 128 \
  --d-model 256 --layers 4 --heads 4 --warmup 5 --save-every 1000 --threads "$threads" 2>&1 | grep "step 30/"
rm -rf "$out"
