#!/usr/bin/env bash
# Side-by-side: Dllm vs llama.cpp's libllama (LLamaSharp 0.30.0 CPU backend) on the same GGUF files, one full
# forward (every canvas position's logits) per call, alternately in each engine (Dllm.Bench vsllama, see
# bench/Dllm.Bench/VsLlamaBench.cs): median/best wall ms, CPU ms, llama.cpp/Dllm and the logit agreement, as a
# markdown table, for F32, BF16, Q8_0 and Q4_K_M files of one random LLaDA.
# Usage: bench/bench_vs_llamacpp.sh [tiny|36m|8b] [rounds]     (default 36m, 5 rounds)
#   CANVAS=32,160,512 THREADS=1,2 override the cells; BENCH_DIR=/tmp/... where the checkpoint and files go.
# Model sizes: 36m = bench/bench_generate.sh's LLaDA (d 512, 8 layers, MLP 1536, vocab 8192; built with
# scripts/bench_generate_torch.py's builder, stored F32); 8b = LLaDA-8B's shape (scripts/make_random_checkpoint.py,
# BF16 weights; the F32 GGUF is ~32 GB, all four files ~62 GB of disk, `dllm export` builds the F32 file in memory
# (~32 GB of RAM: GgufWriter holds every tensor), and each engine maps the file it runs);
# tiny = d 256, 2 layers, MLP 512, vocab 1024 (a smoke test of the pipeline; its timings mean nothing).
# Files: F32 by `dllm export` (Dllm's exporter writes F32 only), then BF16, Q8_0 and Q4_K_M by llama.cpp's own
# quantizer (Dllm.Bench llamaquantize = llama_model_quantize, llama.cpp's default per-tensor mix, as llama-quantize
# makes them; its Q4_K_M has Q6_K matrices). Existing files are reused; nothing is written inside the repository.
# Quiet machine only: libllama here is an OpenMP build whose barriers spin, and on oversubscribed cores its 2-thread
# forwards slow down ~100x (OMP_WAIT_POLICY=passive avoids that but is not llama.cpp's default; see VsLlamaBench.cs).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-36m}; rounds=${2:-5}
canvas=${CANVAS:-32,160,512}; threads=${THREADS:-1,2}
dir=${BENCH_DIR:-/tmp/dllm-vsllama-$size}
ckpt=$dir/checkpoint
mkdir -p "$dir"

if [ ! -e "$ckpt/config.json" ]; then
  case $size in
    tiny) /usr/bin/python3 - "$ckpt" <<'PY'
import os, sys
sys.path.insert(0, "scripts")
import llada_reference as R
cfg = R.llada_config(d_model=256, n_heads=4, n_kv_heads=4, n_layers=2, mlp_hidden_size=512, vocab_size=1024,
                     max_sequence_length=1024)
R.save_checkpoint(sys.argv[1], cfg, R.random_weights(cfg, 7), "F32")
PY
    ;;
    36m) /usr/bin/python3 -c "import sys; sys.path.insert(0, 'scripts'); import bench_generate_torch as B; B.build_or_load('$ckpt', 'F32', 7)" ;;
    8b) /usr/bin/python3 scripts/make_random_checkpoint.py --shape llada-8b --out "$ckpt" ;;
    *) echo "bench_vs_llamacpp.sh: unknown model size '$size' (tiny, 36m or 8b)" >&2; exit 2 ;;
  esac
fi

dotnet build bench/Dllm.Bench -c Release -nologo -v q >/dev/null
bench=bench/Dllm.Bench/bin/Release/net10.0/Dllm.Bench.dll
[ -e "$dir/f32.gguf" ] || ./dllm export --model "$ckpt" --out "$dir/f32.gguf"
for t in bf16 q8_0 q4_k_m; do
  [ -e "$dir/$t.gguf" ] || dotnet "$bench" llamaquantize "$dir/f32.gguf" "$dir/$t.gguf" "$t"
done

dotnet "$bench" vsllama --gguf "$dir/f32.gguf,$dir/bf16.gguf,$dir/q8_0.gguf,$dir/q4_k_m.gguf" \
  --canvas "$canvas" --threads "$threads" --rounds "$rounds"
