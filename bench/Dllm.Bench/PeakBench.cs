using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dllm.Bench;

/// <summary>
/// The CPU's own peaks for the instructions the kernels use, so GEMM and forward figures can be stated as a fraction
/// of them: f32 FMA (256- and 512-bit vfmadd), int8 dot products (AVX-VNNI vpdpbusd on 256 bits, and AVX2's
/// vpmaddubsw + vpmaddwd + vpaddd). Each loop runs 12 independent accumulator chains (enough to cover FMA latency
/// × throughput on Zen 3/4 and Intel cores) over register operands only, on 1..N threads at once.
/// ops: an f32 FMA lane = 2 flops; an int8 multiply-add = 2 ops. BF16 (vdpbf16ps) is not measured: .NET 10 does not
/// expose it. Options: --threads 1,2 --seconds 0.5 --cpu (time by the process's CPU seconds, per thread, instead of the
/// wall clock: what an undisturbed core does, on a shared machine).
/// </summary>
internal static class PeakBench
{
    public static int Run(string[] args)
    {
        int[] threads = [1, 2];
        double seconds = 0.5;
        bool cpu = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--cpu") { cpu = true; continue; }
            if (i + 1 >= args.Length) { Console.Error.WriteLine($"peak: {args[i]} needs a value"); return 2; }
            switch (args[i++])
            {
                case "--threads": threads = [.. args[i].Split(',').Select(int.Parse)]; break;
                case "--seconds": seconds = double.Parse(args[i], System.Globalization.CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"peak: unknown option {args[i - 1]}"); return 2;
            }
        }
        var kernels = new List<(string Name, double OpsPerIteration, Func<long, float> Body)>();
        if (Fma.IsSupported) kernels.Add(("f32 fma ymm", 12 * 8 * 2, Fma256));
        if (Avx512F.IsSupported) kernels.Add(("f32 fma zmm", 12 * 16 * 2, Fma512));
        if (AvxVnni.IsSupported) kernels.Add(("int8 vpdpbusd ymm", 12 * 32 * 2, Vnni256));
        if (Avx2.IsSupported) kernels.Add(("int8 vpmaddubsw ymm", 12 * 32 * 2, Maddubs256));
        Console.WriteLine($"# peaks, {Environment.ProcessorCount} logical cores (register-only loops; load on the machine lowers them)");
        Console.WriteLine("kernel,threads,gops_per_s");
        foreach (var (name, ops, body) in kernels)
            foreach (int t in threads)
            {
                body(1000); // JIT
                const long iters = 20_000_000;
                double best = 0;
                var total = Stopwatch.StartNew();
                while (total.Elapsed.TotalSeconds < seconds)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    double c0 = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
                    Parallel.For(0, t, new ParallelOptions { MaxDegreeOfParallelism = t }, _ => body(iters));
                    double secs = cpu ? (Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - c0) / t : Stopwatch.GetElapsedTime(t0).TotalSeconds;
                    best = Math.Max(best, ops * iters * t / secs / 1e9);
                }
                Console.WriteLine($"{name},{t},{best:F1}");
            }
        return 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Fma256(long n)
    {
        Vector256<float> a = Vector256.Create(1.0001f), b = Vector256.Create(0.9999f);
        Vector256<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (long i = 0; i < n; i++)
        {
            c0 = Fma.MultiplyAdd(c0, b, a); c1 = Fma.MultiplyAdd(c1, b, a); c2 = Fma.MultiplyAdd(c2, b, a); c3 = Fma.MultiplyAdd(c3, b, a);
            c4 = Fma.MultiplyAdd(c4, b, a); c5 = Fma.MultiplyAdd(c5, b, a); c6 = Fma.MultiplyAdd(c6, b, a); c7 = Fma.MultiplyAdd(c7, b, a);
            c8 = Fma.MultiplyAdd(c8, b, a); c9 = Fma.MultiplyAdd(c9, b, a); c10 = Fma.MultiplyAdd(c10, b, a); c11 = Fma.MultiplyAdd(c11, b, a);
        }
        return (c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11).ToScalar();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Fma512(long n)
    {
        Vector512<float> a = Vector512.Create(1.0001f), b = Vector512.Create(0.9999f);
        Vector512<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (long i = 0; i < n; i++)
        {
            c0 = Avx512F.FusedMultiplyAdd(c0, b, a); c1 = Avx512F.FusedMultiplyAdd(c1, b, a); c2 = Avx512F.FusedMultiplyAdd(c2, b, a); c3 = Avx512F.FusedMultiplyAdd(c3, b, a);
            c4 = Avx512F.FusedMultiplyAdd(c4, b, a); c5 = Avx512F.FusedMultiplyAdd(c5, b, a); c6 = Avx512F.FusedMultiplyAdd(c6, b, a); c7 = Avx512F.FusedMultiplyAdd(c7, b, a);
            c8 = Avx512F.FusedMultiplyAdd(c8, b, a); c9 = Avx512F.FusedMultiplyAdd(c9, b, a); c10 = Avx512F.FusedMultiplyAdd(c10, b, a); c11 = Avx512F.FusedMultiplyAdd(c11, b, a);
        }
        return (c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11).ToScalar();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Vnni256(long n)
    {
        Vector256<byte> u = Vector256.Create((byte)3);
        Vector256<sbyte> s = Vector256.Create((sbyte)-2);
        Vector256<int> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default,
            c8 = default, c9 = default, c10 = default, c11 = default;
        for (long i = 0; i < n; i++)
        {
            c0 = AvxVnni.MultiplyWideningAndAdd(c0, u, s); c1 = AvxVnni.MultiplyWideningAndAdd(c1, u, s); c2 = AvxVnni.MultiplyWideningAndAdd(c2, u, s);
            c3 = AvxVnni.MultiplyWideningAndAdd(c3, u, s); c4 = AvxVnni.MultiplyWideningAndAdd(c4, u, s); c5 = AvxVnni.MultiplyWideningAndAdd(c5, u, s);
            c6 = AvxVnni.MultiplyWideningAndAdd(c6, u, s); c7 = AvxVnni.MultiplyWideningAndAdd(c7, u, s); c8 = AvxVnni.MultiplyWideningAndAdd(c8, u, s);
            c9 = AvxVnni.MultiplyWideningAndAdd(c9, u, s); c10 = AvxVnni.MultiplyWideningAndAdd(c10, u, s); c11 = AvxVnni.MultiplyWideningAndAdd(c11, u, s);
        }
        return (c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11).ToScalar();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Maddubs256(long n)
    {
        Vector256<byte> u = Vector256.Create((byte)3);
        Vector256<sbyte> s = Vector256.Create((sbyte)-2);
        Vector256<short> ones = Vector256.Create((short)1);
        Vector256<int> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default,
            c8 = default, c9 = default, c10 = default, c11 = default;
        for (long i = 0; i < n; i++)
        {
            // the u operand changes with i so the multiply cannot be hoisted out of the loop
            Vector256<byte> v = u + Vector256.Create((byte)i);
            c0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(v, s), ones); c1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(s.AsByte(), s), ones);
            c2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(v, v.AsSByte()), ones); c3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, v.AsSByte()), ones);
            c4 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(v, s), ones); c5 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(s.AsByte(), v.AsSByte()), ones);
            c6 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(v, s), ones); c7 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, v.AsSByte()), ones);
            c8 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(v, s), ones); c9 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(s.AsByte(), v.AsSByte()), ones);
            c10 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(v, s), ones); c11 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, v.AsSByte()), ones);
        }
        return (c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11).ToScalar();
    }
}
