using Dllm.Tensors;
using Xunit;

namespace Dllm.Tests.Tensors;

/// <summary>
/// The Q8_0 / Q4_0 / Q5_0 / Q4_K / Q5_K / Q6_K block formats and the int8 GEMM. Kernels are checked against an independent
/// double-precision reference of the same computation (activations quantized per 32-value block with
/// scale max|x|/127 and round-half-even, integer block dots, summed in double), over odd shapes, for every
/// kernel this CPU can run (<see cref="QuantGemm.Kind"/> is lowered to force AVX2 and portable on a VNNI
/// machine); the kernels must also agree bit for bit with each other and across thread counts.
/// </summary>
[Collection(nameof(GemmCollection))]
public sealed unsafe class QuantGemmTests
{
    public static TheoryData<DType> Formats => [DType.Q8_0, DType.Q4_0, DType.Q5_0, DType.Q4_K, DType.Q5_K, DType.Q6_K];

    /// <summary><paramref name="k"/> rounded up to whole blocks of <paramref name="t"/> (K-quant rows are multiples of 256).</summary>
    private static int Whole(int k, DType t) => (k + t.BlockValues() - 1) / t.BlockValues() * t.BlockValues();

    private static IEnumerable<QuantKernelKind> Kinds => Enum.GetValues<QuantKernelKind>().Where(k => k <= QuantGemm.Best);

    [Fact]
    public void Q8_0_block_matches_ggml_rounding_by_hand()
    {
        float[] x = [.. Enumerable.Range(0, 32).Select(j => (float)(j - 16))]; // -16 .. 15
        byte[] b = QuantBlocks.Quantize(x, DType.Q8_0);
        Assert.Equal(34, b.Length);
        Assert.Equal((Half)(16f / 127f), BitConverter.ToHalf(b, 0));
        Assert.Equal(-127, (sbyte)b[2]);       // -16 · 127/16
        Assert.Equal(8, (sbyte)b[2 + 17]);     // 1 · 7.9375 rounds up
        Assert.Equal(0, (sbyte)b[2 + 16]);
        Assert.Equal(119, (sbyte)b[2 + 31]);   // 15 · 7.9375 = 119.06
    }

    [Fact]
    public void Q4_0_block_matches_ggml_rounding_by_hand()
    {
        float[] x = [.. Enumerable.Range(0, 32).Select(j => (float)(j - 16))]; // largest magnitude: -16 at j = 0
        byte[] b = QuantBlocks.Quantize(x, DType.Q4_0);
        Assert.Equal(18, b.Length);
        Assert.Equal((Half)2f, BitConverter.ToHalf(b, 0)); // d = -16 / -8
        // nibble = min(15, trunc(x/2 + 8.5)); byte j = nibble(j) | nibble(j+16) << 4
        Assert.Equal(0x80, b[2]);            // x=-16 -> 0, x=0 -> 8
        Assert.Equal(0x91, b[2 + 1]);        // x=-15 -> 1, x=1 -> 9
        Assert.Equal(0x91, b[2 + 2]);        // x=-14 -> 1 (8.5-7 = 1.5), x=2 -> 9
        Assert.Equal(0xF8, b[2 + 15]);       // x=-1 -> 8, x=15 -> min(15, 16)
        float[] back = new float[32];
        fixed (byte* p = b) QuantBlocks.Dequantize((nint)p, DType.Q4_0, back);
        Assert.Equal(-16f, back[0]);
        Assert.Equal(14f, back[31]);
    }

    [Theory, InlineData(-1f), InlineData(1f)]
    public void Q5_0_block_matches_ggml_rounding_by_hand(float sign)
    {
        // x_j = sign·(j − 16): the value of largest magnitude is x_0 = −16·sign, so d = x_0 / −16 = sign and
        // q = min(31, trunc(x/d + 16.5)) = trunc(j + 0.5) = j: every code is its index and the block round-trips exactly.
        float[] x = [.. Enumerable.Range(0, 32).Select(j => sign * (j - 16))];
        byte[] b = QuantBlocks.Quantize(x, DType.Q5_0);
        Assert.Equal(22, b.Length);
        Assert.Equal((Half)sign, BitConverter.ToHalf(b, 0));
        Assert.Equal(0xFFFF0000u, BitConverter.ToUInt32(b, 2)); // codes 16..31 (values 16..31) have the fifth bit
        for (int j = 0; j < 16; j++) Assert.Equal((byte)(j | j << 4), b[6 + j]); // low nibbles of j and j + 16
        float[] back = new float[32];
        fixed (byte* p = b) QuantBlocks.Dequantize((nint)p, DType.Q5_0, back);
        Assert.Equal(x, back);
        // +16 steps clip to code 31: x = (−8, 8, 0 …) gives d = 0.5, codes 0, 31 (not 32), 16.
        float[] clip = new float[32];
        clip[0] = -8; clip[1] = 8;
        b = QuantBlocks.Quantize(clip, DType.Q5_0);
        fixed (byte* p = b) QuantBlocks.Dequantize((nint)p, DType.Q5_0, back);
        Assert.Equal([-8f, 7.5f, 0f], back[..3]);
    }

    [Theory, InlineData(DType.Q8_0), InlineData(DType.Q4_0), InlineData(DType.Q5_0)]
    public void Dequantized_values_are_within_half_a_step(DType t)
    {
        var rng = new Random(1);
        float[] x = [.. Enumerable.Range(0, 32 * 7).Select(_ => (float)(rng.NextDouble() * 2 - 1) * (rng.Next(3) + 1))];
        x[40] = 0; for (int j = 64; j < 96; j++) x[j] = 0; // an all-zero block
        byte[] q = QuantBlocks.Quantize(x, t);
        float[] back = new float[x.Length];
        fixed (byte* p = q) Widen.ToSingle((nint)p, t, back);
        for (int b = 0; b < 7; b++)
        {
            float d = Math.Abs((float)BitConverter.ToHalf(q, b * t.BlockBytes()));
            for (int j = 0; j < 32; j++)
            {
                int i = b * 32 + j;
                // half a step (a whole one where Q4_0 clips +8 steps to +7, Q5_0 +16 to +15), plus the f16
                // rounding of the scale times the largest code
                int clipped = t == DType.Q4_0 ? 7 : t == DType.Q5_0 ? 15 : int.MaxValue;
                float step = Math.Abs(Math.Abs(back[i]) - clipped * d) < 1e-6f ? d : d * 0.5f;
                Assert.True(Math.Abs(back[i] - x[i]) <= step + d * 8e-4f * 128 + 1e-7f, $"{t} element {i}: {x[i]} came back as {back[i]} (d {d})");
            }
        }
        Assert.All(back.AsSpan(64, 32).ToArray(), v => Assert.Equal(0f, v));
    }

    [Theory, InlineData(DType.Q4_K), InlineData(DType.Q5_K)]
    public void K_quant_with_mins_block_layout_and_error(DType t)
    {
        var rng = new Random(2);
        int bb = t.BlockBytes();
        float[] x = [.. Enumerable.Range(0, 256 * 3).Select(_ => (float)(rng.NextDouble() * 2 - 1) * (rng.Next(3) + 1))];
        for (int j = 256; j < 512; j++) x[j] = 0;   // an all-zero super-block
        for (int j = 512; j < 544; j++) x[j] = 0.5f; // a constant positive sub-block: min 0, all codes equal
        byte[] q = QuantBlocks.Quantize(x, t);
        Assert.Equal(3 * (t == DType.Q4_K ? 144 : 176), q.Length);
        float[] back = new float[x.Length];
        fixed (byte* p = q) Widen.ToSingle((nint)p, t, back);
        Assert.All(back.AsSpan(256, 256).ToArray(), v => Assert.Equal(0f, v));
        Assert.All(q.AsSpan(bb, bb).ToArray(), b => Assert.Equal(0, b));
        Assert.All(back.AsSpan(512, 32).ToArray(), v => Assert.Equal(back[512], v)); // (within a step of 0.5: the 6-bit sc is relative to the block's largest)
        // Every value within one step d·sc of its sub-block (the least-squares fit may clip an extreme by up to a step).
        for (int b = 0; b < 3; b++)
            fixed (byte* p = q)
                for (int j = 0; j < 8; j++)
                {
                    float step = (float)BitConverter.ToHalf(q, b * bb) * QuantBlocksScale(p + b * bb + 4, j);
                    for (int i = 0; i < 32; i++)
                    {
                        int e = b * 256 + 32 * j + i;
                        Assert.True(Math.Abs(back[e] - x[e]) <= step * 1.01f + 1e-6f, $"{t} element {e}: {x[e]} came back as {back[e]} (step {step})");
                    }
                }
    }

    [Fact]
    public void Q5_K_block_built_by_hand_dequantizes_as_ggml_lays_it_out()
    {
        // d = 1, dmin = 0.5; sub-block j: sc = j + 1, m = 2j (6-bit, packed as Q4_K's: no high bits needed here);
        // code of value 32j + l: (l + j) % 32, its fifth bit in bit j of qh[l], its low nibble in qs[32·(j/2) + l] (low for even j).
        byte[] b = new byte[176];
        BitConverter.TryWriteBytes(b.AsSpan(0), (Half)1f);
        BitConverter.TryWriteBytes(b.AsSpan(2), (Half)0.5f);
        for (int j = 0; j < 8; j++)
        {
            if (j < 4) { b[4 + j] = (byte)(j + 1); b[4 + j + 4] = (byte)(2 * j); }
            else b[4 + j + 4] = (byte)(((j + 1) & 0xF) | ((2 * j) & 0xF) << 4);
            for (int l = 0; l < 32; l++)
            {
                int q = (l + j) % 32;
                b[16 + l] |= (byte)((q >> 4) << j);
                b[48 + 32 * (j / 2) + l] |= (byte)((q & 0xF) << (4 * (j & 1)));
            }
        }
        float[] back = new float[256];
        fixed (byte* p = b) QuantBlocks.Dequantize((nint)p, DType.Q5_K, back);
        for (int j = 0; j < 8; j++)
            for (int l = 0; l < 32; l++)
                Assert.Equal((j + 1) * ((l + j) % 32) - 0.5f * (2 * j), back[32 * j + l]);
    }

    private static int QuantBlocksScale(byte* scales, int j) => j < 4 ? scales[j] & 63 : (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);

    [Fact]
    public void Quantize_rejects_partial_blocks() =>
        Assert.Contains("not whole Q8_0 blocks", Assert.Throws<ArgumentException>(() => QuantBlocks.Quantize(new float[40], DType.Q8_0)).Message);

    [Theory, MemberData(nameof(Formats))]
    public void Gemm_matches_reference_over_odd_shapes_for_every_kernel(DType t)
    {
        (int m, int n, int k)[] shapes = [(1, 1, 32), (5, 3, 96), (13, 7, 352), (3, 33, 64), (37, 133, 416), (2, 5, 1024)];
        var rng = new Random(7);
        foreach (var (m, n, k0) in shapes)
        {
            int k = Whole(k0, t);
            float[] x = Random(rng, m * k), wf = Random(rng, n * k);
            if (m > 1) Array.Clear(x, k, Math.Min(32, k)); // an all-zero activation block
            byte[] w = QuantBlocks.Quantize(wf, t);
            double[] expected = Reference(x, w, t, m, n, k);
            float[]? first = null;
            foreach (QuantKernelKind kind in Kinds)
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    float[] c = Run(kind, threads, x, w, t, m, n, k, accumulate: false, init: null);
                    for (int i = 0; i < m * n; i++)
                        Assert.True(Math.Abs(c[i] - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])),
                            $"{t} {kind} threads {threads} {m}x{n}x{k}: C[{i / n},{i % n}] = {c[i]}, expected {expected[i]}");
                    if (first == null) first = c;
                    else Assert.True(first.AsSpan().SequenceEqual(c), $"{t} {kind} threads {threads} {m}x{n}x{k}: not bit-identical to the first kernel/thread count");
                }
        }
    }

    [Theory, MemberData(nameof(Formats))]
    public void Quantizing_a_large_tensor_on_several_threads_gives_the_same_bytes(DType t)
    {
        var rng = new Random(11);
        float[] x = Random(rng, 3 * (1 << 18) + 256); // split into parts of different sizes
        int old = Parallelism.Threads;
        try
        {
            Parallelism.Threads = 1;
            byte[] one = QuantBlocks.Quantize(x, t);
            Parallelism.Threads = 3;
            Assert.Equal(one, QuantBlocks.Quantize(x, t));
        }
        finally { Parallelism.Threads = old; }
    }

    [Theory, MemberData(nameof(Formats))]
    public void Accumulate_adds_onto_C_and_padding_is_untouched(DType t)
    {
        var rng = new Random(3);
        int m = 4, n = 6, k = Whole(64, t), ldc = 9;
        float[] x = Random(rng, m * k), w = Random(rng, n * k);
        byte[] q = QuantBlocks.Quantize(w, t);
        double[] expected = Reference(x, q, t, m, n, k);
        float[] init = Random(rng, m * ldc);
        foreach (QuantKernelKind kind in Kinds)
        {
            float[] c = (float[])init.Clone();
            WithKind(kind, 1, () =>
            {
                fixed (float* px = x) fixed (byte* pw = q) fixed (float* pc = c)
                    QuantGemm.Multiply(MatrixView.RowMajor((nint)px, DType.F32, m, k), MatrixView.RowMajor((nint)pw, t, n, k), pc, ldc, accumulate: true);
            });
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                    Assert.True(Math.Abs(c[i * ldc + j] - (init[i * ldc + j] + expected[i * n + j])) <= 1e-5 * (1 + Math.Abs(expected[i * n + j])), $"{kind} C[{i},{j}]");
                for (int j = n; j < ldc; j++) Assert.Equal(init[i * ldc + j], c[i * ldc + j]);
            }
        }
    }

    [Theory, MemberData(nameof(Formats))]
    public void LinearForward_dispatches_a_quantized_weight_and_stays_close_to_f32(DType t)
    {
        var rng = new Random(5);
        int m = 9, n = 40, k = Whole(160, t);
        float[] x = Random(rng, m * k), w = Random(rng, n * k);
        byte[] q = QuantBlocks.Quantize(w, t);
        float[] viaGemm = new float[m * n], exactF32 = new float[m * n];
        fixed (byte* pw = q) Gemm.LinearForward(x, m, MatrixView.RowMajor((nint)pw, t, n, k), viaGemm);
        fixed (float* pw = w) Gemm.LinearForward(x, m, MatrixView.RowMajor((nint)pw, DType.F32, n, k), exactF32);
        double[] expected = Reference(x, q, t, m, n, k);
        for (int i = 0; i < m * n; i++) Assert.True(Math.Abs(viaGemm[i] - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])));
        // Against the unquantized product: relative L2 error of the format (Q8_0 ~1 %, Q4_0 ~10 %).
        double num = 0, den = 0;
        for (int i = 0; i < m * n; i++) { num += Math.Pow(viaGemm[i] - exactF32[i], 2); den += Math.Pow(exactF32[i], 2); }
        double rel = Math.Sqrt(num / den);
        Assert.True(rel < (t == DType.Q8_0 ? 0.02 : 0.2), $"{t}: relative L2 error {rel:G3} against f32");
        Assert.True(rel > 0, "a quantized product cannot be exact on random data");
    }

    [Fact]
    public void Quantized_A_and_partial_block_rows_are_refused()
    {
        byte[] q = new byte[DType.Q8_0.ByteCount(64)];
        float[] c = new float[64];
        fixed (byte* p = q) fixed (float* pc = c)
        {
            var w = MatrixView.RowMajor((nint)p, DType.Q8_0, 2, 32);
            var f = MatrixView.RowMajor((nint)pc, DType.F32, 32, 2);
            nint cp = (nint)pc;
            var e = Assert.Throws<NotSupportedException>(() => Gemm.Multiply(w, f, (float*)cp, 2));
            Assert.Contains("only be the weight of a linear layer", e.Message);
            var odd = new MatrixView((nint)p, DType.Q8_0, 2, 16, 16, 1);
            Assert.Throws<ArgumentException>(() => odd.At(1, 0));
        }
    }

    private static float[] Random(Random rng, int count) => [.. Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1))];

    private static float[] Run(QuantKernelKind kind, int threads, float[] x, byte[] w, DType t, int m, int n, int k, bool accumulate, float[]? init)
    {
        float[] c = init ?? new float[m * n];
        WithKind(kind, threads, () =>
        {
            fixed (float* px = x) fixed (byte* pw = w) fixed (float* pc = c)
                Gemm.Multiply(MatrixView.RowMajor((nint)px, DType.F32, m, k), MatrixView.RowMajor((nint)pw, t, n, k).T, pc, n, accumulate);
        });
        return c;
    }

    /// <summary>The defined computation in double: Q8 activations (own code, not the kernel's), integer block dots.</summary>
    private static double[] Reference(float[] x, byte[] w, DType t, int m, int n, int k)
    {
        float[] wd = new float[n * k];
        fixed (byte* p = w) QuantBlocks.Dequantize((nint)p, t, wd);
        var r = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int b = 0; b < k / 32; b++)
            {
                float amax = 0;
                for (int j = 0; j < 32; j++) amax = Math.Max(amax, Math.Abs(x[i * k + b * 32 + j]));
                float dx = amax / 127f, inv = amax == 0 ? 0 : 127f / amax;
                for (int col = 0; col < n; col++)
                {
                    double s = 0;
                    for (int j = 0; j < 32; j++)
                        s += Math.Round(x[i * k + b * 32 + j] * inv, MidpointRounding.ToEven) * (double)wd[col * k + b * 32 + j];
                    r[i * n + col] += dx * s;
                }
            }
        return r;
    }

    private static void WithKind(QuantKernelKind kind, int threads, Action body)
    {
        int oldThreads = Parallelism.Threads;
        var old = QuantGemm.Kind;
        Parallelism.Threads = threads;
        QuantGemm.Kind = kind;
        try { body(); }
        finally { Parallelism.Threads = oldThreads; QuantGemm.Kind = old; }
    }
}
