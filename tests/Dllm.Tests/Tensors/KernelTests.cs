using Dllm.Tensors;

namespace Dllm.Tests.Tensors;

/// <summary>The non-GEMM kernels against naive double-precision references over odd sizes.</summary>
public class KernelTests
{
    private static float[] RandomArray(Random rng, int n, double scale = 1)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return a;
    }

    private static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double rel = 1e-5, double abs = 1e-6)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= abs + rel * Math.Abs(expected[i]),
                $"element {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 7)]
    [InlineData(2, 63)]
    [InlineData(5, 65)]
    [InlineData(1, 257)]
    public void RmsNormMatchesDefinition(int rows, int d)
    {
        var rng = new Random(d);
        float[] x = RandomArray(rng, rows * d, 3), w = RandomArray(rng, d);
        var y = new float[rows * d];
        RmsNorm.Forward(x, w, 1e-5f, y, rows);
        var expected = new double[rows * d];
        for (int r = 0; r < rows; r++)
        {
            double ms = 0;
            for (int j = 0; j < d; j++) ms += (double)x[r * d + j] * x[r * d + j];
            double inv = 1 / Math.Sqrt(ms / d + 1e-5);
            for (int j = 0; j < d; j++) expected[r * d + j] = x[r * d + j] * inv * w[j];
        }
        AssertClose(expected, y, 1e-5);
    }

    [Fact]
    public void RmsNormOfZerosIsZero()
    {
        var y = new float[8];
        RmsNorm.Forward(new float[8], [1, 1, 1, 1, 1, 1, 1, 1], 1e-5f, y, 1);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(8, 3)]
    [InlineData(64, 2)]
    [InlineData(128, 1)]
    [InlineData(8, 3, 4)]    // LLaDA2's partial rotary: the first 4 of 8 dims rotate (pairs j, j + 2), the rest pass through
    [InlineData(128, 2, 64)]
    [InlineData(16, 1, 2)]
    public void RopeRotatesHalvesByPositionAngle(int hd, int heads, int rotary = 0)
    {
        var rng = new Random(hd);
        int rows = 5, r0 = rotary == 0 ? hd : rotary;
        float[] x = RandomArray(rng, rows * heads * hd), y = (float[])x.Clone();
        int[] pos = [0, 1, 7, 100, 4095];
        var rope = new Rope(hd, 4096, 500000, rotary);
        rope.Apply(y, rows, heads, pos);
        var expected = x.Select(v => (double)v).ToArray(); // dims past the rotary dim pass through
        int half = r0 / 2;
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
                for (int j = 0; j < half; j++)
                {
                    double angle = pos[r] * Math.Pow(500000, -2.0 * j / r0);
                    int o = (r * heads + h) * hd;
                    double a = x[o + j], b = x[o + j + half];
                    expected[o + j] = a * Math.Cos(angle) - b * Math.Sin(angle);
                    expected[o + j + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
                }
        // Angles up to 4095 rad in float32 carry ~2e-4 absolute phase error, as in the reference.
        AssertClose(expected, y, 1e-3, 2e-3);
    }

    [Fact]
    public void RopeAtPositionZeroIsIdentityAndPreservesNorm()
    {
        var rng = new Random(1);
        float[] x = RandomArray(rng, 2 * 16), y = (float[])x.Clone();
        new Rope(16, 64, 10000).Apply(y, 2, 1, [0, 33]);
        for (int j = 0; j < 16; j++) Assert.Equal(x[j], y[j]);
        double n0 = 0, n1 = 0;
        for (int j = 16; j < 32; j++) { n0 += x[j] * x[j]; n1 += y[j] * y[j]; }
        Assert.Equal(n0, n1, 4);
    }

    [Fact]
    public void RopeRejectsAnOddOrOversizedRotaryDim()
    {
        Assert.Contains("got 3", Assert.Throws<ArgumentException>(() => new Rope(8, 8, 10000, 3)).Message);
        Assert.Contains("got 10", Assert.Throws<ArgumentException>(() => new Rope(8, 8, 10000, 10)).Message);
    }

    [Fact]
    public void RopeRejectsPositionBeyondTable()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Rope(4, 8, 10000).Apply(new float[4], 1, 1, [8]));
        Assert.Contains("maximum sequence length", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(65)]
    public void SoftmaxSumsToOneAndHandlesMaskedEntries(int n)
    {
        var rng = new Random(n);
        float[] x = RandomArray(rng, n, 50);
        if (n > 2) x[1] = float.NegativeInfinity;
        float[] y = (float[])x.Clone();
        Softmax.InPlace(y);
        double max = x.Max(), sum = x.Sum(v => Math.Exp(v - max));
        AssertClose(x.Select(v => Math.Exp(v - max) / sum).ToArray(), y, 1e-5, 1e-7);
        float[] allMasked = [float.NegativeInfinity, float.NegativeInfinity];
        Softmax.InPlace(allMasked);
        Assert.Equal([0f, 0f], allMasked);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1023)]
    [InlineData(1025)]
    public void SwiGluIsSiluGateTimesUp(int n)
    {
        var rng = new Random(n);
        float[] g = RandomArray(rng, n, 6), u = RandomArray(rng, n), y = (float[])g.Clone();
        SwiGlu.ForwardInPlace(y, u);
        AssertClose(g.Select((v, i) => v / (1 + Math.Exp(-v)) * u[i]).ToArray(), y, 1e-5);
    }

    /// <summary>Naive attention in double: the definition softmax(q·kᵀ/√hd)·v per (sequence, head).</summary>
    private static double[] NaiveAttention(float[] q, float[] k, float[] v, int batch, int qLen, int qOff, int kLen,
        int heads, int kvHeads, int hd, byte[]? mask, bool causal)
    {
        var o = new double[batch * qLen * heads * hd];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
            {
                int kh = h / (heads / kvHeads);
                for (int i = 0; i < qLen; i++)
                {
                    var s = new double[kLen];
                    double max = double.NegativeInfinity;
                    for (int t = 0; t < kLen; t++)
                    {
                        bool visible = (!causal || t <= qOff + i) && (mask == null || mask[b * kLen + t] != 0);
                        if (!visible) { s[t] = double.NegativeInfinity; continue; }
                        double dot = 0;
                        for (int j = 0; j < hd; j++) dot += (double)q[((b * qLen + i) * heads + h) * hd + j] * k[((b * kLen + t) * kvHeads + kh) * hd + j];
                        s[t] = dot / Math.Sqrt(hd);
                        max = Math.Max(max, s[t]);
                    }
                    if (double.IsNegativeInfinity(max)) continue;
                    double z = s.Sum(x => Math.Exp(x - max));
                    for (int t = 0; t < kLen; t++)
                    {
                        double p = Math.Exp(s[t] - max) / z;
                        for (int j = 0; j < hd; j++) o[((b * qLen + i) * heads + h) * hd + j] += p * v[((b * kLen + t) * kvHeads + kh) * hd + j];
                    }
                }
            }
        return o;
    }

    [Theory]
    [InlineData(1, 1, 1, 1, 4, false, false)]
    [InlineData(2, 7, 4, 4, 8, false, false)]
    [InlineData(2, 63, 4, 2, 16, true, false)]   // grouped-query + key padding mask
    [InlineData(1, 65, 8, 1, 8, false, true)]    // multi-query + causal
    [InlineData(3, 9, 6, 3, 2, true, true)]
    public void AttentionMatchesDefinition(int batch, int len, int heads, int kvHeads, int hd, bool padded, bool causal)
    {
        var rng = new Random(len * 31 + heads);
        float[] q = RandomArray(rng, batch * len * heads * hd, 2), k = RandomArray(rng, batch * len * kvHeads * hd, 2), v = RandomArray(rng, batch * len * kvHeads * hd);
        byte[]? mask = null;
        if (padded)
        {
            mask = new byte[batch * len];
            for (int b = 0; b < batch; b++) for (int t = 0; t < len; t++) mask[b * len + t] = (byte)(t < b ? 0 : 1); // left padding
        }
        foreach (int threads in new[] { 1, 2 })
        {
            Parallelism.Threads = threads;
            var o = new float[q.Length];
            Attention.Forward(q, k, v, o, batch, len, heads, kvHeads, hd, mask, causal);
            AssertClose(NaiveAttention(q, k, v, batch, len, 0, len, heads, kvHeads, hd, mask, causal), o, 1e-4, 1e-5);
        }
        Parallelism.Threads = Environment.ProcessorCount;
    }

    [Fact]
    public void WindowedAttentionEqualsTheSameRowsOfFullAttention()
    {
        var rng = new Random(5);
        int batch = 2, len = 12, heads = 4, kvHeads = 2, hd = 8, start = 5, end = 9, w = end - start;
        float[] q = RandomArray(rng, batch * len * heads * hd), k = RandomArray(rng, batch * len * kvHeads * hd), v = RandomArray(rng, batch * len * kvHeads * hd);
        var full = new float[q.Length];
        Attention.Forward(q, k, v, full, batch, len, heads, kvHeads, hd);
        var qw = new float[batch * w * heads * hd];
        for (int b = 0; b < batch; b++) Array.Copy(q, (b * len + start) * heads * hd, qw, b * w * heads * hd, w * heads * hd);
        var ow = new float[qw.Length];
        Attention.Forward(qw, k, v, ow, batch, w, start, len, heads, kvHeads, hd);
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < w * heads * hd; i++)
                Assert.Equal(full[(b * len + start) * heads * hd + i], ow[b * w * heads * hd + i], 6);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public unsafe void EmbeddingGatherWidensStoredRows(DType dtype)
    {
        int vocab = 7, d = 9;
        var rng = new Random(3);
        float[] table = RandomArray(rng, vocab * d);
        byte[] stored = new byte[vocab * d * dtype.SizeOf()];
        var expected = new double[3 * d];
        int[] ids = [6, 0, 6];
        fixed (byte* p = stored)
        {
            for (int i = 0; i < table.Length; i++)
            {
                if (dtype == DType.F32) ((float*)p)[i] = table[i];
                else if (dtype == DType.F16) ((Half*)p)[i] = (Half)table[i];
                else ((ushort*)p)[i] = Widen.SingleToBf16(table[i]);
            }
            for (int r = 0; r < ids.Length; r++)
                for (int j = 0; j < d; j++)
                {
                    int i = ids[r] * d + j;
                    expected[r * d + j] = dtype switch { DType.F32 => table[i], DType.F16 => (double)((Half*)p)[i], _ => Widen.Bf16ToSingle(((ushort*)p)[i]) };
                }
            var output = new float[ids.Length * d];
            Embedding.Gather(MatrixView.RowMajor((nint)p, dtype, vocab, d), ids, output);
            AssertClose(expected, output, 0, 0);
            var view = MatrixView.RowMajor((nint)p, dtype, vocab, d);
            Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Gather(view, [7], output));
        }
    }

    [Fact]
    public void Bf16RoundTripIsRoundToNearestEven()
    {
        Assert.Equal(0x3F80, Widen.SingleToBf16(1f));
        // 1 + 2^-8 is exactly halfway between two bf16 values: ties go to the even mantissa (1.0).
        Assert.Equal(0x3F80, Widen.SingleToBf16(1f + 1f / 256));
        Assert.Equal(0x3F82, Widen.SingleToBf16(1f + 3f / 256));
        Assert.True(float.IsNaN(Widen.Bf16ToSingle(Widen.SingleToBf16(float.NaN))));
        float[] src = [0.1f, -2.5f, 1e-30f, 3e38f, 0f, -0f, 7f, 8f, 9f];
        var wide = new float[src.Length];
        ushort[] bits = src.Select(Widen.SingleToBf16).ToArray();
        Widen.Bf16ToSingle(bits, wide);
        for (int i = 0; i < src.Length; i++) Assert.Equal(Widen.Bf16ToSingle(bits[i]), wide[i]);
    }
}
