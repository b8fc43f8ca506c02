using System.Runtime.InteropServices;
using Dllm.Tensors;
using Xunit;

namespace Dllm.Tests.Tensors;

/// <summary>Gemm tests mutate process-wide knobs (Parallelism.Threads, the kernel choice), so it
/// runs alone rather than beside other classes that might change them under it.</summary>
[CollectionDefinition(nameof(GemmCollection), DisableParallelization = true)]
public sealed class GemmCollection;

/// <summary>
/// Gemm against a naive double-precision reference. Inputs are rounded to their dtype first, so the
/// reference sees exactly the values the kernel widens; the only error left is float32 summation,
/// bounded by a small multiple of Σ|a·b| (an edge tile that is wrong, missing or doubled is off by
/// O(1) and fails).
/// </summary>
[Collection(nameof(GemmCollection))]
public sealed unsafe class GemmTests
{
    private const double RelTol = 1e-5;

    /// <summary>A matrix in native memory with its exact values kept as doubles for the reference.</summary>
    private sealed class TestMatrix : IDisposable
    {
        public readonly double[,] Values;
        public readonly MatrixView View;
        private readonly void* _mem;

        /// <param name="transposed">Store as the transpose (cols×rows row-major) and view it through .T.</param>
        /// <param name="pad">Extra elements at the end of every stored row (row stride > width).</param>
        public TestMatrix(int rows, int cols, DType t, bool transposed, int pad, Random rng)
        {
            Values = new double[rows, cols];
            int sr = transposed ? cols : rows, sc = transposed ? rows : cols, stride = sc + pad;
            long count = Math.Max(1, (long)sr * stride);
            _mem = NativeMemory.AllocZeroed((nuint)(count * t.SizeOf()));
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                {
                    float v = (float)(rng.NextDouble() * 2 - 1);
                    long idx = transposed ? (long)j * stride + i : (long)i * stride + j;
                    switch (t)
                    {
                        case DType.F32: ((float*)_mem)[idx] = v; Values[i, j] = v; break;
                        case DType.F16: ((Half*)_mem)[idx] = (Half)v; Values[i, j] = (double)(Half)v; break;
                        default:
                            ushort bits = Widen.SingleToBf16(v);
                            ((ushort*)_mem)[idx] = bits; Values[i, j] = Widen.Bf16ToSingle(bits); break;
                    }
                }
            var stored = new MatrixView((nint)_mem, t, sr, sc, stride, 1);
            View = transposed ? stored.T : stored;
        }

        public void Dispose() => NativeMemory.Free(_mem);
    }

    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (1, 7, 1), (7, 1, 7), (6, 16, 256), (12, 32, 512), (7, 17, 300), (5, 300, 129),
        (63, 65, 257), (65, 63, 1), (257, 63, 65), (130, 100, 257), (100, 130, 257), (600, 20, 200),
    ];

    public static TheoryData<int, int, int, int> ShapesAndThreads()
    {
        var d = new TheoryData<int, int, int, int>();
        foreach (var (m, n, k) in Shapes) { d.Add(m, n, k, 1); d.Add(m, n, k, 2); }
        return d;
    }

    /// <summary>Every kernel this CPU can run (the best one first); the others are covered on CPUs
    /// that have them, and the portable one everywhere.</summary>
    private static GemmKernelKind[] Kinds =>
        new[] { GemmKernelKind.Avx512, GemmKernelKind.Avx2, GemmKernelKind.Portable }.Where(k => k <= GemmMicroKernel.Best).ToArray();

    /// <summary>
    /// Every B dtype × transposed/non-transposed A and B × accumulate on/off × every SIMD kernel the
    /// CPU has (the best one with all layouts; the others with A and B both plain or both transposed,
    /// and the portable one without f16, to keep the run short); m·n·k ≥ 2·10⁶ with
    /// threads = 2 splits the longer side of C: (100, 130, 257) goes through the column split,
    /// (130, 100, 257) and (600, 20, 200) through the row split.
    /// </summary>
    [Theory]
    [MemberData(nameof(ShapesAndThreads))]
    public void Multiply_MatchesReference_AllLayouts(int m, int n, int k, int threads)
    {
        var rng = new Random(m * 7919 + n * 104729 + k);
        foreach (var kind in Kinds)
            WithKernel(kind, threads, () =>
            {
                foreach (DType bt in new[] { DType.F32, DType.BF16, DType.F16 })
                    foreach (bool ta in new[] { false, true })
                        foreach (bool tb in new[] { false, true })
                            if (kind == GemmMicroKernel.Best || (ta == tb && (kind != GemmKernelKind.Portable || bt != DType.F16)))
                                Check(m, n, k, DType.F32, bt, ta, tb, padA: 0, padB: 0, padC: 0, rng);
            });
    }

    /// <summary>A in f16/bf16 (the generic A path) against every B dtype, with padded strides.</summary>
    [Theory]
    [InlineData(DType.F16, 1)]
    [InlineData(DType.BF16, 1)]
    [InlineData(DType.F16, 2)]
    [InlineData(DType.BF16, 2)]
    public void Multiply_HalfPrecisionA_PaddedStrides(DType at, int threads)
    {
        var rng = new Random((int)at * 31 + threads);
        foreach (var kind in Kinds)
            WithKernel(kind, threads, () =>
            {
                foreach (var (m, n, k) in new[] { (5, 300, 129), (65, 63, 7), (130, 100, 257) })
                    foreach (DType bt in new[] { DType.F32, DType.BF16, DType.F16 })
                        foreach (bool t in new[] { false, true })
                            Check(m, n, k, at, bt, ta: t, tb: !t, padA: 3, padB: 5, padC: 7, rng);
            });
    }

    /// <summary>Asking for a kernel the CPU lacks is refused rather than crashing later.</summary>
    [Fact]
    public void Kernel_UnsupportedKindIsRejected()
    {
        if (GemmMicroKernel.Best == GemmKernelKind.Avx512) return; // nothing is unsupported here
        Assert.Throws<ArgumentException>(() => GemmMicroKernel.Kind = GemmKernelKind.Avx512);
    }

    [Fact]
    public void LinearForward_Bf16Weight_MatchesReference()
    {
        var rng = new Random(11);
        const int m = 33, k = 70, n = 41;
        using var w = new TestMatrix(n, k, DType.BF16, transposed: false, pad: 0, rng);
        var x = new float[m * k];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var y = new float[m * n];
        Array.Fill(y, 1f);
        Gemm.LinearForward(x, m, w.View, y, accumulate: true);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 1, bound = 1;
                for (int p = 0; p < k; p++) { s += x[i * k + p] * w.Values[j, p]; bound += Math.Abs(x[i * k + p] * w.Values[j, p]); }
                Assert.True(Math.Abs(y[i * n + j] - s) <= RelTol * bound, $"y[{i},{j}] = {y[i * n + j]}, expected {s}");
            }
    }

    [Fact]
    public void Multiply_EmptyShapes()
    {
        var rng = new Random(3);
        float* c = stackalloc float[12];
        // k = 0: C = 0, or unchanged when accumulating.
        using (var a = new TestMatrix(3, 0, DType.F32, false, 0, rng))
        using (var b = new TestMatrix(0, 4, DType.BF16, false, 0, rng))
        {
            for (int i = 0; i < 12; i++) c[i] = 5;
            Gemm.Multiply(a.View, b.View, c, 4, accumulate: true);
            for (int i = 0; i < 12; i++) Assert.Equal(5f, c[i]);
            Gemm.Multiply(a.View, b.View, c, 4);
            for (int i = 0; i < 12; i++) Assert.Equal(0f, c[i]);
        }
        // m = 0 and n = 0: nothing is written (C may even be null).
        using (var a = new TestMatrix(0, 5, DType.F32, false, 0, rng))
        using (var b = new TestMatrix(5, 4, DType.F32, false, 0, rng))
            Gemm.Multiply(a.View, b.View, null, 4);
        using (var a = new TestMatrix(3, 5, DType.F32, false, 0, rng))
        using (var b = new TestMatrix(5, 0, DType.F32, false, 0, rng))
            Gemm.Multiply(a.View, b.View, null, 0);
    }

    [Fact]
    public void Multiply_BadShapes_Throw()
    {
        var rng = new Random(4);
        using var a = new TestMatrix(3, 5, DType.F32, false, 0, rng);
        using var b = new TestMatrix(4, 2, DType.F32, false, 0, rng);
        using var b2 = new TestMatrix(5, 2, DType.F32, false, 0, rng);
        float* c = stackalloc float[16];
        var av = a.View; var bv = b.View; var b2v = b2.View;
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply(av, bv, c, 2));
        Assert.Contains("inner dimensions", ex.Message);
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(av, b2v, c, 1)); // ldc < n
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(av, b2v, null, 2));
        Assert.Throws<ArgumentException>(() => Gemm.LinearForward(new float[14], 3, b2v.T, new float[6]));
        Assert.Throws<ArgumentException>(() => Gemm.LinearForward(new float[15], 3, b2v.T, new float[5]));
    }

    /// <summary>
    /// The packed A layout itself, for both panel heights (MR = 6 for AVX2, 12 for AVX-512: the
    /// vectorised packing paths need only AVX, so both are checked on any CPU), row-major and
    /// transposed f32 A, a kc that is not a multiple of 8 and a partial last panel: every packed
    /// value must be A[i, p] (zero for padded rows) and nothing may be written past ASize + ASlack.
    /// </summary>
    [Theory]
    [InlineData(6, false)]
    [InlineData(6, true)]
    [InlineData(12, false)]
    [InlineData(12, true)]
    public void PackA_layout_for_each_panel_height(int MR, bool transposed)
    {
        var rng = new Random(MR + (transposed ? 100 : 0));
        int m = 3 * MR + MR / 2 + 1, k = 45, i0 = 1, p0 = 2, mc = m - 1, kc = 40; // kc 40 = whole 8-steps, 37 = with a tail
        using var a = new TestMatrix(m, k, DType.F32, transposed, 3, rng);
        foreach (int kcCase in new[] { kc, kc - 3 })
        {
            long size = GemmPacking.ASize(mc, kcCase, MR);
            var buf = new float[size + GemmPacking.ASlack + 16];
            Array.Fill(buf, float.NaN);
            fixed (float* pb = buf) GemmPacking.PackA(a.View, i0, mc, p0, kcCase, pb, MR);
            for (int q = 0; q * MR < mc; q++)
                for (int p = 0; p < kcCase; p++)
                    for (int r = 0; r < MR; r++)
                    {
                        int i = q * MR + r;
                        float expected = i < mc ? (float)a.Values[i0 + i, p0 + p] : 0f;
                        Assert.True(buf[q * MR * kcCase + p * MR + r] == expected, $"MR={MR} kc={kcCase} panel {q} p={p} r={r}");
                    }
            for (long t = size + GemmPacking.ASlack; t < buf.Length; t++) Assert.True(float.IsNaN(buf[t]), $"wrote past the slack at {t}");
        }
    }

    /// <summary>Splitting rows or columns over threads must not change a single bit of C (the
    /// trainer's exact resume and the engine's thread-independent tokens rely on it).</summary>
    [Theory]
    [InlineData(300, 130, 257)] // rows split
    [InlineData(130, 300, 257)] // columns split
    public void Multiply_is_bit_identical_for_any_thread_count(int m, int n, int k)
    {
        var rng = new Random(m + n);
        using var a = new TestMatrix(m, k, DType.F32, false, 0, rng);
        using var b = new TestMatrix(k, n, DType.F32, true, 0, rng);
        var c1 = new float[m * n]; var c2 = new float[m * n];
        WithKernel(GemmMicroKernel.Best, 1, () => { fixed (float* pc = c1) Gemm.Multiply(a.View, b.View, pc, n); });
        WithKernel(GemmMicroKernel.Best, 2, () => { fixed (float* pc = c2) Gemm.Multiply(a.View, b.View, pc, n); });
        Assert.Equal(c1, c2);
    }

    /// <summary>The checker itself must be able to fail: one corrupted element of an edge tile is caught.</summary>
    [Fact]
    public void Checker_CatchesCorruptedEdgeTile()
    {
        var rng = new Random(9);
        using var a = new TestMatrix(7, 20, DType.F32, false, 0, rng);
        using var b = new TestMatrix(20, 17, DType.BF16, true, 0, rng);
        var c = new float[7 * 17];
        fixed (float* pc = c) Gemm.Multiply(a.View, b.View, pc, 17);
        Assert.Null(FirstMismatch(a, b, c, 17));
        c[6 * 17 + 16] += 0.01f; // the single element of the bottom-right edge tile
        Assert.NotNull(FirstMismatch(a, b, c, 17));
    }

    /// <summary>Runs C = A·B and then C += A·B on a random C and compares both with the reference.</summary>
    private static void Check(int m, int n, int k, DType at, DType bt, bool ta, bool tb, int padA, int padB, int padC, Random rng)
    {
        using var a = new TestMatrix(m, k, at, ta, padA, rng);
        using var b = new TestMatrix(k, n, bt, tb, padB, rng);
        int ldc = n + padC;
        var (product, bound) = Reference(a, b);
        var c = new float[Math.Max(1, m * ldc)];
        for (int i = 0; i < c.Length; i++) c[i] = (float)(rng.NextDouble() * 2 - 1);
        var initial = (float[])c.Clone();
        fixed (float* pc = c) Gemm.Multiply(a.View, b.View, pc, ldc, accumulate: false);
        Report(Compare(product, bound, c, ldc, null, initial), false);
        var overwritten = (float[])c.Clone();
        fixed (float* pc = c) Gemm.Multiply(a.View, b.View, pc, ldc, accumulate: true);
        Report(Compare(product, bound, c, ldc, overwritten, initial), true);

        void Report(string? err, bool acc) => Assert.True(err == null,
            $"m={m} n={n} k={k} A={at}{(ta ? "ᵀ" : "")} B={bt}{(tb ? "ᵀ" : "")} acc={acc} threads={Parallelism.Threads} kernel={GemmMicroKernel.Kind}: {err}");
    }

    /// <summary>A·B in double, and Σ|a·b| per element (the scale of float32 rounding error).</summary>
    private static (double[,] Product, double[,] Bound) Reference(TestMatrix a, TestMatrix b)
    {
        int m = a.Values.GetLength(0), k = a.Values.GetLength(1), n = b.Values.GetLength(1);
        var prod = new double[m, n]; var bound = new double[m, n];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
            {
                double av = a.Values[i, p];
                for (int j = 0; j < n; j++) { double t = av * b.Values[p, j]; prod[i, j] += t; bound[i, j] += Math.Abs(t); }
            }
        return (prod, bound);
    }

    /// <summary>Null when C = (initial +) product within tolerance and C's padding columns still equal
    /// <paramref name="untouched"/>; else a description of the first bad element.</summary>
    private static string? Compare(double[,] product, double[,] bound, float[] c, int ldc, float[]? initial, float[] untouched)
    {
        int m = product.GetLength(0), n = product.GetLength(1);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double c0 = initial?[i * ldc + j] ?? 0, want = c0 + product[i, j], got = c[i * ldc + j];
                double tol = RelTol * (bound[i, j] + Math.Abs(c0)) + 1e-30;
                if (!(Math.Abs(got - want) <= tol))
                    return $"C[{i},{j}] = {got}, expected {want} (|err| {Math.Abs(got - want):g3}, tol {tol:g3})";
            }
            for (int j = n; j < ldc; j++)
                if (c[i * ldc + j] != untouched[i * ldc + j]) return $"padding C[{i},{j}] was overwritten";
        }
        return null;
    }

    /// <summary>Null when C matches A·B (no padding, nothing accumulated), else the first bad element.</summary>
    private static string? FirstMismatch(TestMatrix a, TestMatrix b, float[] c, int ldc)
    {
        var (product, bound) = Reference(a, b);
        return Compare(product, bound, c, ldc, null, c);
    }

    private static void WithKernel(GemmKernelKind kind, int threads, Action body)
    {
        int oldThreads = Parallelism.Threads;
        var oldKind = GemmMicroKernel.Kind;
        Parallelism.Threads = threads;
        GemmMicroKernel.Kind = kind;
        try { body(); }
        finally { Parallelism.Threads = oldThreads; GemmMicroKernel.Kind = oldKind; }
    }
}
