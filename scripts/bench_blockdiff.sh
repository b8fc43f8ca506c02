#!/usr/bin/env bash
# Block diffusion decoding speed at real sizes (random weights, one engine per process, 2 threads), side by side
# in one run: Fast-dLLM v2 1.5B-shaped and SDAR 1.7B-shaped models with their exact cache against LLaDA-8B with
# Fast-dLLM's dual cache, one token committed per step for all three (random weights are never confident, so a
# threshold would commit one token per step anyway). Makes the checkpoints first if they are missing:
#   /usr/bin/python3 scripts/make_random_checkpoint.py --shape fastdllm-v2-1.5b|sdar-1.7b|llada-8b --out /tmp/...
# Usage: bash scripts/bench_blockdiff.sh [answer tokens for the block models, default 256] [LLaDA-8B answer tokens, default 64]
set -euo pipefail
cd "$(dirname "$0")/.."
gen=${1:-256}; gen8b=${2:-64}
for shape in fastdllm-v2-1.5b sdar-1.7b llada-8b; do
  [ -f "/tmp/$shape-random/config.json" ] || /usr/bin/python3 scripts/make_random_checkpoint.py --shape "$shape" --out "/tmp/$shape-random"
done
dotnet build bench/Dllm.Bench -c Release -v q >/dev/null
bench="dotnet bench/Dllm.Bench/bin/Release/net10.0/Dllm.Bench.dll realsize --threads 2 --prompt 32"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
$bench --model /tmp/fastdllm-v2-1.5b-random --gen-length "$gen" --steps "$gen" --cache prefix
$bench --model /tmp/sdar-1.7b-random --gen-length "$gen" --steps "$gen" --cache prefix
$bench --model /tmp/llada-8b-random --gen-length "$gen8b" --steps "$gen8b" --block-length 32 --cache dual
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
