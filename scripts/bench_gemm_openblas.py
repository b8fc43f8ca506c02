#!/usr/bin/python3
"""OpenBLAS side of the GEMM benchmark (see scripts/bench_gemm.sh).

Runs numpy float32 matmul (-> cblas_sgemm in whatever libblas.so.3 numpy is linked to; on this
machine the Debian alternative points at OpenBLAS 0.3.21 pthread) over the same shapes and with the
same timing protocol as bench/Dllm.Bench/GemmBench.cs: one untimed call, ~0.2 s warm-up, then 7
samples of >= 30 ms each; prints best and median GFLOP/s (flops = 2*m*n*k).

Threads are fixed by OPENBLAS_NUM_THREADS, which OpenBLAS reads once at load time, so the thread
count is given on the command line and exported before numpy is imported.
Usage: bench_gemm_openblas.py THREADS [--quick] [--train] [--cpu]
"""
import ctypes
import os
import sys
import time

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
quick = "--quick" in sys.argv
train = "--train" in sys.argv  # the shapes of one training step (GemmBench.TrainCases)
cpu = "--cpu" in sys.argv      # time 0.3 s samples by process CPU time (GemmBench --cpu)
os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
import numpy as np  # noqa: E402  (must come after OPENBLAS_NUM_THREADS)

# Same list as GemmBench.Cases: (name, m, n, k, linear). linear: C = X @ W.T with W (n x k) row-major.
CASES = [
    ("square256", 256, 256, 256, False),
    ("square1024", 1024, 1024, 1024, False),
    ("square2048", 2048, 2048, 2048, False),
    ("attn_qkvo", 160, 512, 512, True),
    ("mlp_up", 160, 1408, 512, True),
    ("mlp_down", 160, 512, 1408, True),
    ("lm_head", 160, 4096, 512, True),
]

# Same list as GemmBench.TrainCases: layout "lin" = X @ W.T, "sq" = both row-major,
# "wg" = dY.T @ X with dY (k x m) row-major (a weight gradient).
TRAIN_CASES = [
    ("fwd_attn", 2048, 256, 256, "lin"), ("fwd_mlp_up", 2048, 704, 256, "lin"), ("fwd_mlp_down", 2048, 256, 704, "lin"),
    ("dx_attn", 2048, 256, 256, "sq"), ("dx_mlp_up", 2048, 256, 704, "sq"), ("dx_mlp_down", 2048, 704, 256, "sq"),
    ("dw_attn", 256, 256, 2048, "wg"), ("dw_mlp_up", 704, 256, 2048, "wg"), ("dw_mlp_down", 256, 704, 2048, "wg"),
]
clock = time.process_time if cpu else time.perf_counter


def blas_info():
    """Which BLAS numpy really calls: ask the loaded libblas for its OpenBLAS core name."""
    try:
        lib = ctypes.CDLL("libblas.so.3")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        return "%s core=%s threads=%d" % (lib.openblas_get_config().decode(), lib.openblas_get_corename().decode(),
                                          lib.openblas_get_num_threads())
    except (OSError, AttributeError):
        return "libblas.so.3 is not OpenBLAS"


def measure(m, n, k, layout):
    rng = np.random.default_rng(1)
    a = (rng.random((k, m), dtype=np.float32) - 0.5).T if layout == "wg" else (rng.random((m, k), dtype=np.float32) - 0.5)
    b = (rng.random((n, k), dtype=np.float32) - 0.5).T if layout in (True, "lin") else (rng.random((k, n), dtype=np.float32) - 0.5)
    c = np.empty((m, n), dtype=np.float32)
    flops = 2.0 * m * n * k
    np.matmul(a, b, out=c)
    t0 = clock()
    reps = 0
    while clock() - t0 < 0.2:
        np.matmul(a, b, out=c)
        reps += 1
    per_sample = max(1, int(-(-(0.3 if cpu else 0.03) // ((clock() - t0) / reps))))
    samples = []
    for _ in range(7):
        t = clock()
        for _ in range(per_sample):
            np.matmul(a, b, out=c)
        samples.append(flops / ((clock() - t) / per_sample) / 1e9)
    samples.sort()
    return samples[-1], samples[len(samples) // 2]


def main():
    print("# numpy %s, %s" % (np.__version__, blas_info()))
    print("case,m,n,k,btype,threads,best_gflops,median_gflops")
    for name, m, n, k, layout in (TRAIN_CASES if train else CASES):
        if quick and m * n * k > 1 << 30:
            continue
        best, median = measure(m, n, k, layout)
        print("%s,%d,%d,%d,f32,%d,%.1f,%.1f" % (name, m, n, k, threads, best, median))


if __name__ == "__main__":
    main()
