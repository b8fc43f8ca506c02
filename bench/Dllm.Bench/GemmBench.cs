using System.Diagnostics;
using System.Runtime.InteropServices;
using Dllm.Tensors;

namespace Dllm.Bench;

/// <summary>
/// GFLOP/s of <see cref="Gemm.Multiply"/> on square problems and on the linear layers of a ~30M
/// parameter LLaDA model (d_model 512, SwiGLU hidden 1408, vocab 4096) at m = 160 rows, with B in
/// f32 and bf16, for each thread count. The shape list and timing protocol mirror
/// scripts/bench_gemm_openblas.py so scripts/bench_gemm.sh can put the two side by side.
/// <para>Protocol: one untimed warm-up call plus ~0.2 s of warm-up (JIT tiering, buffer growth),
/// then 7 samples of enough repetitions to take ≥ 30 ms each; reports the best and the median
/// sample. flops = 2·m·n·k. Options: --threads 1,2  --csv  --quick (skip 2048³)
/// --train (the shapes of one training step instead, f32 only: see <see cref="TrainCases"/>)
/// --cpu (time 0.3 s samples by process CPU time instead of wall clock: for 1 thread on a shared machine)
/// --kernel avx512|avx2|portable (default: the best the CPU has)
/// --types f32,bf16,q8_0,q4_0 (default f32,bf16; the quantized types run the Linear cases only, through
/// <see cref="QuantGemm"/>) --qkernel avxvnni|avx2|portable (the int8 kernel; default the best)
/// --m N (every case with N activation rows) --packed (the Linear weights packed once, as a loaded model's are).</para>
/// </summary>
internal static unsafe class GemmBench
{
    /// <summary>How A and B are laid out: Square = both row-major; Linear = A row-major, B = Wᵀ of a
    /// row-major (n × k) weight (a forward layer); WeightGrad = A = dYᵀ of a row-major (k × m)
    /// gradient, B row-major (the dW = dYᵀ·X of a backward layer).</summary>
    internal enum Layout { Square, Linear, WeightGrad }

    /// <summary>(name, m, n, k, layout).</summary>
    internal static readonly (string Name, int M, int N, int K, Layout Layout)[] Cases =
    [
        ("square256", 256, 256, 256, Layout.Square),
        ("square1024", 1024, 1024, 1024, Layout.Square),
        ("square2048", 2048, 2048, 2048, Layout.Square),
        ("attn_qkvo", 160, 512, 512, Layout.Linear),
        ("mlp_up", 160, 1408, 512, Layout.Linear),
        ("mlp_down", 160, 512, 1408, Layout.Linear),
        ("lm_head", 160, 4096, 512, Layout.Linear),
    ];

    /// <summary>The GEMMs of one training step of bench/bench_train.sh's model (d 256, MLP 704,
    /// batch 16 × 128 = 2048 rows): forward, input gradient (dY·W, B row-major) and weight gradient.</summary>
    internal static readonly (string Name, int M, int N, int K, Layout Layout)[] TrainCases =
    [
        ("fwd_attn", 2048, 256, 256, Layout.Linear),
        ("fwd_mlp_up", 2048, 704, 256, Layout.Linear),
        ("fwd_mlp_down", 2048, 256, 704, Layout.Linear),
        ("dx_attn", 2048, 256, 256, Layout.Square),
        ("dx_mlp_up", 2048, 256, 704, Layout.Square),
        ("dx_mlp_down", 2048, 704, 256, Layout.Square),
        ("dw_attn", 256, 256, 2048, Layout.WeightGrad),
        ("dw_mlp_up", 704, 256, 2048, Layout.WeightGrad),
        ("dw_mlp_down", 256, 704, 2048, Layout.WeightGrad),
    ];

    public static int Run(string[] args)
    {
        int[] threadCounts = [1, 2];
        bool csv = false, quick = false, train = false;
        DType[] types = [DType.F32, DType.BF16];
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--threads": threadCounts = args[++i].Split(',').Select(int.Parse).ToArray(); break;
                case "--csv": csv = true; break;
                case "--quick": quick = true; break;
                case "--train": train = true; break;
                case "--cpu": s_cpuTime = true; break;
                case "--kernel": GemmMicroKernel.Kind = Enum.Parse<GemmKernelKind>(args[++i], ignoreCase: true); break;
                case "--qkernel": QuantGemm.Kind = Enum.Parse<QuantKernelKind>(args[++i], ignoreCase: true); break;
                case "--m": s_m = int.Parse(args[++i]); break;
                case "--packed": s_packed = true; break;
                case "--types": types = [.. args[++i].Split(',').Select(t => Enum.Parse<DType>(t, ignoreCase: true))]; break;
                default: Console.Error.WriteLine($"gemm: unknown option {args[i]}"); return 2;
            }
        }
        if (!csv) Console.WriteLine($"# Dllm Gemm, {Environment.ProcessorCount} logical cores, .NET {Environment.Version}, kernel={GemmMicroKernel.Kind}, int8 kernel={QuantGemm.Kind}");
        Console.WriteLine("case,m,n,k,btype,threads,best_gflops,median_gflops");
        foreach (var (name, m, n, k, layout) in train ? TrainCases : Cases)
            foreach (DType bt in train ? new[] { DType.F32 } : types)
                foreach (int t in threadCounts)
                {
                    if (quick && m * (long)n * k > 1L << 30) continue;
                    if (bt.IsQuantized() && layout != Layout.Linear) continue; // a quantized matrix is only ever a linear weight
                    if (bt.IsQuantized() && k % bt.BlockValues() != 0) continue; // rows of whole blocks only (K-quants: 256)
                    var (best, median) = Measure(s_m ?? m, n, k, layout, bt, t);
                    Console.WriteLine($"{name},{s_m ?? m},{n},{k},{bt.ToString().ToLowerInvariant()},{t},{best:F1},{median:F1}");
                }
        return 0;
    }

    private static bool s_cpuTime, s_packed;
    private static int? s_m;

    /// <summary>Seconds on the chosen clock: wall, or (--cpu) the process's CPU time, which on a shared
    /// machine is what an undisturbed core would take (meaningful with 1 thread).</summary>
    private static double Now() => s_cpuTime ? Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds : Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;

    private static (double Best, double Median) Measure(int m, int n, int k, Layout layout, DType bt, int threads)
    {
        var rng = new Random(1);
        float* a = (float*)NativeMemory.AlignedAlloc((nuint)((long)m * k * 4), 64);
        void* b = NativeMemory.AlignedAlloc((nuint)bt.ByteCount((long)k * n), 64);
        float* c = (float*)NativeMemory.AlignedAlloc((nuint)((long)m * n * 4), 64);
        try
        {
            for (long i = 0; i < (long)m * k; i++) a[i] = (float)(rng.NextDouble() - 0.5);
            if (bt.IsQuantized())
            {
                float[] w = [.. Enumerable.Range(0, k * n).Select(_ => (float)(rng.NextDouble() - 0.5))];
                QuantBlocks.Quantize(w, bt, new Span<byte>(b, (int)bt.ByteCount(w.Length)));
            }
            else
                for (long i = 0; i < (long)k * n; i++)
                {
                    float v = (float)(rng.NextDouble() - 0.5);
                    if (bt == DType.F32) ((float*)b)[i] = v; else ((ushort*)b)[i] = Widen.SingleToBf16(v);
                }
            var av = layout == Layout.WeightGrad ? MatrixView.RowMajor((nint)a, DType.F32, k, m).T : MatrixView.RowMajor((nint)a, DType.F32, m, k);
            // Linear: B = Wᵀ with W (n × k) row-major, as Gemm.LinearForward does; otherwise B row-major.
            var bv = layout == Layout.Linear ? MatrixView.RowMajor((nint)b, bt, n, k).T : MatrixView.RowMajor((nint)b, bt, k, n);
            Parallelism.Threads = threads;
            double flops = 2.0 * m * n * k;
            using PackedWeight? packed = s_packed && layout == Layout.Linear ? PackedWeight.TryPack(MatrixView.RowMajor((nint)b, bt, n, k)) : null;
            packed?.Register();

            Gemm.Multiply(av, bv, c, n);
            var sw = Stopwatch.StartNew();
            int reps = 0;
            while (sw.Elapsed.TotalSeconds < 0.2) { Gemm.Multiply(av, bv, c, n); reps++; }
            // CPU time is read from the kernel in clock ticks (10 ms), so --cpu samples run 0.3 s.
            int perSample = Math.Max(1, (int)Math.Ceiling((s_cpuTime ? 0.3 : 0.03) / (sw.Elapsed.TotalSeconds / reps)));

            var samples = new double[7];
            for (int s = 0; s < samples.Length; s++)
            {
                double t0 = Now();
                for (int r = 0; r < perSample; r++) Gemm.Multiply(av, bv, c, n);
                double secs = (Now() - t0) / perSample;
                samples[s] = flops / secs / 1e9;
            }
            Array.Sort(samples);
            return (samples[^1], samples[samples.Length / 2]);
        }
        finally
        {
            NativeMemory.AlignedFree(a); NativeMemory.AlignedFree(b); NativeMemory.AlignedFree(c);
        }
    }
}
