#!/usr/bin/env bash
# GEMM: Dllm (C#) vs OpenBLAS (numpy float32 matmul), run back to back, printed side by side.
#   scripts/bench_gemm.sh [--quick]      (--quick skips the 2048³ cases)
# Both sides run twice: at their best (C#: the best kernel the CPU has; OpenBLAS: its own CPU
# detection, OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset for that command only) and restricted to
# AVX2+FMA (C#: --kernel avx2; OpenBLAS: OPENBLAS_CORETYPE=Haswell), which is what a Zen 3 gets. Ratios use best-of-7 GFLOP/s; OpenBLAS has
# no bf16 GEMM here, so the C# bf16-weight rows are compared with OpenBLAS float32.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=${1:-}
THREADS="1 2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

dotnet build -c Release bench/Dllm.Bench -nologo -v q >/dev/null
dotnet bench/Dllm.Bench/bin/Release/net10.0/Dllm.Bench.dll gemm --csv --threads "${THREADS// /,}" $QUICK > "$tmp/cs.csv"
dotnet bench/Dllm.Bench/bin/Release/net10.0/Dllm.Bench.dll gemm --csv --threads "${THREADS// /,}" --kernel avx2 $QUICK > "$tmp/cs2.csv"
for t in $THREADS; do
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 scripts/bench_gemm_openblas.py "$t" $QUICK >> "$tmp/ob.csv"
  OPENBLAS_CORETYPE=Haswell /usr/bin/python3 scripts/bench_gemm_openblas.py "$t" $QUICK >> "$tmp/hw.csv"
done

/usr/bin/python3 - "$tmp" <<'PY'
import csv, sys, os
d = sys.argv[1]
def load(name):
    rows, notes = {}, []
    for line in open(os.path.join(d, name)):
        if line.startswith("#"):
            if line not in notes: notes.append(line.strip())
            continue
        if line.startswith("case,"): continue
        r = next(csv.reader([line]))
        rows[(r[0], r[4], r[5])] = (r[1], r[2], r[3], float(r[6]), float(r[7]))
    return rows, notes
cs, _ = load("cs.csv"); cs2, _ = load("cs2.csv"); ob, obn = load("ob.csv"); hw, hwn = load("hw.csv")
for n in obn[:1] + hwn[:1]: print(n)
print("| case | m×n×k | B | threads | C# best | OpenBLAS auto | ratio | C# AVX2 | OpenBLAS Haswell | ratio |")
print("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
for (case, bt, t), (m, n, k, best, med) in cs.items():
    o = ob.get((case, "f32", t)); h = hw.get((case, "f32", t)); b2 = cs2[(case, bt, t)][3]
    print("| %s | %s×%s×%s | %s | %s | %.1f | %.1f | %.0f%% | %.1f | %.1f | %.0f%% |" % (
        case, m, n, k, bt, t, best, o[3], 100 * best / o[3], b2, h[3], 100 * b2 / h[3]))
PY
