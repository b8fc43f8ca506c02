using Dllm.Tensors;
using Xunit;

namespace Dllm.Tests.Training;

/// <summary>
/// Finite-difference checks of every backward kernel on its own. Each op's output y is reduced to
/// a scalar loss Σ c⊙y with random c (so dy = c), and the analytic gradient must match central
/// differences to a norm-wise relative error below <see cref="Bound"/>. A wrong sign gives ~2, a
/// missing term gives roughly its share of the gradient (≫ 1e-3 on these random inputs).
/// </summary>
public class OpGradientTests
{
    /// <summary>Float32 forward, h = 1e-2: measured errors are 1e-8..5e-5.</summary>
    private const double Bound = 1e-3;
    private readonly ITestOutputHelper _out = TestContext.Current.TestOutputHelper!;

    private void Check(string what, ReadOnlySpan<float> analytic, double[] numeric)
    {
        double e = GradCheck.RelativeError(analytic, numeric);
        _out.WriteLine($"{what}: relative error {e:E2}");
        Assert.True(e < Bound, $"{what}: relative error {e:E3} ≥ {Bound}");
    }

    [Fact]
    public void RmsNorm_dx_and_dweight()
    {
        var rng = new Random(1);
        int rows = 3, d = 8;
        float[] x = GradCheck.Randn(rng, rows * d), w = GradCheck.Randn(rng, d), c = GradCheck.Randn(rng, rows * d);
        var y = new float[rows * d];
        double F() { RmsNorm.Forward(x, w, 1e-5f, y, rows); return GradCheck.Dot(c, y); }
        var dx = new float[rows * d]; var dw = new float[d];
        RmsNormBackward.Backward(x, w, 1e-5f, c, dx, dw, rows);
        Check("rmsnorm dx", dx, GradCheck.Numeric(F, x, 1e-2));
        Check("rmsnorm dw", dw, GradCheck.Numeric(F, w, 1e-2));
        // dx accumulates: a second call doubles it.
        var dx2 = (float[])dx.Clone(); var dw2 = new float[d];
        RmsNormBackward.Backward(x, w, 1e-5f, c, dx2, dw2, rows);
        for (int i = 0; i < dx.Length; i++) Assert.Equal(2 * dx[i], dx2[i], 1e-5f);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)] // partial rotary (LLaDA2): dims 4..7 pass through, and so does their gradient
    public void Rope_backward_is_the_inverse_rotation(int rotary)
    {
        var rng = new Random(2);
        int rows = 3, heads = 2, hd = 8;
        var rope = new Rope(hd, 16, 10000, rotary);
        int[] pos = [0, 5, 13];
        float[] x = GradCheck.Randn(rng, rows * heads * hd), c = GradCheck.Randn(rng, x.Length);
        double F() { var y = (float[])x.Clone(); rope.Apply(y, rows, heads, pos); return GradCheck.Dot(c, y); }
        var dx = (float[])c.Clone();
        rope.ApplyTranspose(dx, rows, heads, pos);
        Check("rope dx", dx, GradCheck.Numeric(F, x, 1e-2));
        // Rᵀ·R = I
        var round = (float[])x.Clone();
        rope.Apply(round, rows, heads, pos);
        rope.ApplyTranspose(round, rows, heads, pos);
        for (int i = 0; i < x.Length; i++) Assert.Equal(x[i], round[i], 1e-5f);
    }

    public static TheoryData<string, int, int, bool> AttentionCases => new()
    {
        { "bidirectional", 4, 4, false }, { "bidirectional", 4, 2, false }, { "bidirectional", 4, 1, true },
        { "causal", 4, 4, false }, { "causal", 4, 2, false }, { "causal", 2, 1, true },
        { "block2", 4, 4, false }, { "block2", 4, 2, false }, { "block3", 2, 1, true },
    };

    internal static AttentionPattern Pattern(string name) => name switch
    {
        "causal" => AttentionPattern.Causal,
        "block2" => AttentionPattern.BlockCausal(2),
        "block3" => AttentionPattern.BlockCausal(3),
        _ => AttentionPattern.Bidirectional,
    };

    [Theory]
    [MemberData(nameof(AttentionCases))]
    public void Attention_dq_dk_dv(string pattern, int heads, int kvHeads, bool keyMask)
    {
        var rng = new Random(3 + heads * 10 + kvHeads);
        int b = 2, len = 5, hd = 4;
        AttentionPattern pat = Pattern(pattern);
        float[] q = GradCheck.Randn(rng, b * len * heads * hd), k = GradCheck.Randn(rng, b * len * kvHeads * hd);
        float[] v = GradCheck.Randn(rng, b * len * kvHeads * hd), c = GradCheck.Randn(rng, q.Length);
        byte[] mask = keyMask ? [1, 1, 0, 1, 1, 1, 1, 1, 1, 0] : [];
        var o = new float[q.Length]; var probs = new float[b * heads * len * len];
        double F() { Attention.Forward(q, k, v, o, b, len, heads, kvHeads, hd, pat, mask); return GradCheck.Dot(c, o); }
        Attention.Forward(q, k, v, o, b, len, heads, kvHeads, hd, pat, mask, probs);
        var dq = new float[q.Length]; var dk = new float[k.Length]; var dv = new float[v.Length];
        AttentionBackward.Backward(q, k, v, probs, c, dq, dk, dv, b, len, heads, kvHeads, hd);
        string tag = $"attention {pat} H{heads}/{kvHeads}{(keyMask ? " masked" : "")}";
        Check(tag + " dq", dq, GradCheck.Numeric(F, q, 1e-2));
        Check(tag + " dk", dk, GradCheck.Numeric(F, k, 1e-2));
        Check(tag + " dv", dv, GradCheck.Numeric(F, v, 1e-2));
    }

    /// <summary>
    /// Longer than <see cref="AttentionBackward.QueryChunk"/> query rows (two chunks, the second
    /// partial), grouped-query heads and a causal pattern with a key mask: the GEMM backward must equal
    /// the per-element formula computed in double from the same saved probabilities. Catches a
    /// chunk that overwrites instead of adding into dk/dv, or a wrong row offset in the second chunk.
    /// </summary>
    [Fact]
    public void Attention_backward_over_several_query_chunks_matches_the_formula()
    {
        var rng = new Random(11);
        int b = 2, len = AttentionBackward.QueryChunk + 22, heads = 4, kvHeads = 2, hd = 8, group = heads / kvHeads;
        float[] q = GradCheck.Randn(rng, b * len * heads * hd), k = GradCheck.Randn(rng, b * len * kvHeads * hd);
        float[] v = GradCheck.Randn(rng, b * len * kvHeads * hd), dO = GradCheck.Randn(rng, q.Length);
        byte[] mask = new byte[b * len];
        for (int i = 0; i < mask.Length; i++) mask[i] = (byte)(i % 7 == 3 ? 0 : 1);
        var probs = new float[b * heads * len * len];
        Attention.Forward(q, k, v, new float[q.Length], b, len, heads, kvHeads, hd, AttentionPattern.Causal, mask, probs);
        // Poison the outputs: the call must overwrite them, not add to them.
        float[] dq = Enumerable.Repeat(7f, q.Length).ToArray(), dk = Enumerable.Repeat(7f, k.Length).ToArray(), dv = Enumerable.Repeat(7f, v.Length).ToArray();
        AttentionBackward.Backward(q, k, v, probs, dO, dq, dk, dv, b, len, heads, kvHeads, hd);

        var rq = new double[q.Length]; var rk = new double[k.Length]; var rv = new double[v.Length];
        double scale = 1 / Math.Sqrt(hd);
        for (int s = 0; s < b; s++)
            for (int h = 0; h < heads; h++)
            {
                int g = h / group;
                int Qi(int i) => ((s * len + i) * heads + h) * hd;
                int Kj(int j) => ((s * len + j) * kvHeads + g) * hd;
                var dp = new double[len];
                for (int i = 0; i < len; i++)
                {
                    double rowDot = 0;
                    for (int j = 0; j < len; j++)
                    {
                        double dpj = 0;
                        for (int t = 0; t < hd; t++) dpj += (double)dO[Qi(i) + t] * v[Kj(j) + t];
                        dp[j] = dpj;
                        rowDot += probs[((s * heads + h) * len + i) * len + j] * dpj;
                    }
                    for (int j = 0; j < len; j++)
                    {
                        double p = probs[((s * heads + h) * len + i) * len + j], ds = p * (dp[j] - rowDot) * scale;
                        for (int t = 0; t < hd; t++)
                        {
                            rq[Qi(i) + t] += ds * k[Kj(j) + t];
                            rk[Kj(j) + t] += ds * q[Qi(i) + t];
                            rv[Kj(j) + t] += p * dO[Qi(i) + t];
                        }
                    }
                }
            }
        Check("attention chunks dq", dq, rq);
        Check("attention chunks dk", dk, rk);
        Check("attention chunks dv", dv, rv);
    }

    [Fact]
    public void Attention_patterns_hide_the_right_keys()
    {
        int len = 7;
        for (int i = 0; i < len; i++)
        {
            Assert.Equal(len, AttentionPattern.Bidirectional.KeyLimit(i, len));
            Assert.Equal(i + 1, AttentionPattern.Causal.KeyLimit(i, len));
            Assert.Equal(Math.Min(len, (i / 3 + 1) * 3), AttentionPattern.BlockCausal(3).KeyLimit(i, len));
            Assert.Equal(i + 1, AttentionPattern.BlockCausal(1).KeyLimit(i, len));
        }
        // The saved probabilities are zero exactly on hidden keys.
        var rng = new Random(4);
        int heads = 1, hd = 2;
        float[] q = GradCheck.Randn(rng, len * hd), k = GradCheck.Randn(rng, len * hd), v = GradCheck.Randn(rng, len * hd);
        var probs = new float[len * len];
        Attention.Forward(q, k, v, new float[len * hd], 1, len, heads, heads, hd, AttentionPattern.BlockCausal(3), default, probs);
        for (int i = 0; i < len; i++)
            for (int j = 0; j < len; j++)
                Assert.Equal(j / 3 <= i / 3, probs[i * len + j] > 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => AttentionPattern.BlockCausal(0));
    }

    [Fact]
    public void SwiGlu_dgate_dup()
    {
        var rng = new Random(5);
        int n = 24;
        float[] g = GradCheck.Randn(rng, n, 2), u = GradCheck.Randn(rng, n), c = GradCheck.Randn(rng, n);
        double F() { var a = (float[])g.Clone(); SwiGlu.ForwardInPlace(a, u); return GradCheck.Dot(c, a); }
        var dg = new float[n]; var du = new float[n];
        SwiGluBackward.Backward(g, u, c, dg, du);
        Check("swiglu dgate", dg, GradCheck.Numeric(F, g, 1e-2));
        Check("swiglu dup", du, GradCheck.Numeric(F, u, 1e-2));
    }

    [Fact]
    public unsafe void Linear_dx_dw()
    {
        var rng = new Random(6);
        int m = 5, k = 6, n = 7;
        float[] x = GradCheck.Randn(rng, m * k), w = GradCheck.Randn(rng, n * k), c = GradCheck.Randn(rng, m * n);
        var y = new float[m * n];
        fixed (float* pw = w)
        {
            var wv = MatrixView.RowMajor((nint)pw, DType.F32, n, k);
            double F() { Gemm.LinearForward(x, m, wv, y); return GradCheck.Dot(c, y); }
            var dx = new float[m * k]; var dw = new float[n * k];
            LinearBackward.Backward(x, c, m, wv, dx, false, dw);
            Check("linear dx", dx, GradCheck.Numeric(F, x, 1e-2));
            Check("linear dw", dw, GradCheck.Numeric(F, w, 1e-2));
        }
    }

    [Fact]
    public void Embedding_scatter_add_sums_repeated_ids()
    {
        var rng = new Random(7);
        int vocab = 5, d = 3;
        int[] ids = [2, 0, 2, 4];
        float[] table = GradCheck.Randn(rng, vocab * d), c = GradCheck.Randn(rng, ids.Length * d);
        var y = new float[ids.Length * d];
        double F()
        {
            unsafe { fixed (float* p = table) Embedding.Gather(MatrixView.RowMajor((nint)p, DType.F32, vocab, d), ids, y); }
            return GradCheck.Dot(c, y);
        }
        var dt = new float[vocab * d];
        EmbeddingBackward.ScatterAdd(dt, d, ids, c);
        Check("embedding dtable", dt, GradCheck.Numeric(F, table, 1e-2));
        Assert.Throws<ArgumentOutOfRangeException>(() => EmbeddingBackward.ScatterAdd(dt, d, [5], c));
    }

    [Theory]
    [InlineData(5)]
    [InlineData(CrossEntropy.ChunkRows + 6)] // crosses a chunk boundary
    public unsafe void CrossEntropy_fused_head(int rows)
    {
        var rng = new Random(8 + rows);
        int d = 4, vocab = 11;
        float[] h = GradCheck.Randn(rng, rows * d), w = GradCheck.Randn(rng, vocab * d);
        int[] t = Enumerable.Range(0, rows).Select(_ => rng.Next(vocab)).ToArray();
        float[] wt = Enumerable.Range(0, rows).Select(_ => (float)rng.NextDouble()).ToArray();
        var lse = new float[rows];
        fixed (float* pw = w)
        {
            var head = MatrixView.RowMajor((nint)pw, DType.F32, vocab, d);
            double F() => CrossEntropy.Forward(h, rows, head, t, wt, lse);
            // The loss itself, against a double-precision softmax.
            double expect = 0;
            for (int r = 0; r < rows; r++)
            {
                var z = new double[vocab];
                for (int j = 0; j < vocab; j++) for (int e = 0; e < d; e++) z[j] += (double)h[r * d + e] * w[j * d + e];
                double mx = z.Max(), s = z.Sum(zz => Math.Exp(zz - mx));
                expect += wt[r] * (mx + Math.Log(s) - z[t[r]]);
            }
            Assert.Equal(expect, F(), 1e-4 * Math.Abs(expect));
            var dh = new float[rows * d]; var dw = new float[vocab * d];
            CrossEntropy.Backward(h, rows, head, t, wt, lse, 1f, dh, dw);
            Check($"cross-entropy dhidden ({rows} rows)", dh, GradCheck.Numeric(F, h, 1e-2));
            Check($"cross-entropy dhead ({rows} rows)", dw, GradCheck.Numeric(F, w, 1e-2));
        }
    }
}
