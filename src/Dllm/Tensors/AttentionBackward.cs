using System.Buffers;
using System.Numerics.Tensors;

namespace Dllm.Tensors;

/// <summary>
/// Backward of <see cref="Attention.Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, int, int, AttentionPattern, ReadOnlySpan{byte}, Span{float})"/>
/// from the saved softmax probabilities P (llm.c attention_backward; Vaswani et al. 2017 Eq. 1),
/// as four GEMMs per (sequence, head) on strided views, like the forward:
/// <code>
///   S = q·kᵀ/√hd (visible keys),  P = softmax(S),  O = P·v
///   dP  = dO·vᵀ                                    [L × L]
///   dS  = P ⊙ (dP − rowsum(P ⊙ dP)) / √hd          (softmax Jacobian, row by row)
///   dq  = dS·k        dk += dSᵀ·q        dv += Pᵀ·dO
/// </code>
/// Hidden keys have P = 0, hence dS = 0: they get no gradient, so the pattern and key mask are
/// implied by P and need not be passed again; a query that saw no key (P row all zero) gets dq = 0.
/// Query rows are processed in chunks of <see cref="QueryChunk"/> so the dP scratch is bounded by
/// QueryChunk × L floats per worker. Under grouped-query attention the query heads of a group add
/// into the same dk, dv rows; work is split by (sequence, kv head) so no two workers write the same
/// row. Layouts as in <see cref="Attention"/>: q, dOut, dq [batch·len × heads × hd];
/// k, v, dk, dv [batch·len × kvHeads × hd]; probs [batch × heads × len × len].
/// </summary>
public static class AttentionBackward
{
    /// <summary>Query rows per chunk of the dP/dS scratch.</summary>
    internal const int QueryChunk = 128;

    /// <summary>dq, dk and dv are overwritten (they are fully owned by this call).</summary>
    public static void Backward(
        ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> probs,
        ReadOnlySpan<float> dOut, Span<float> dq, Span<float> dk, Span<float> dv,
        int batch, int len, int heads, int kvHeads, int headDim)
    {
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new ArgumentException($"heads ({heads}) must be a positive multiple of kv heads ({kvHeads})");
        if (batch < 0 || len < 0 || headDim <= 0)
            throw new ArgumentException($"bad shape: batch={batch}, len={len}, head dim={headDim}");
        long rows = (long)batch * len;
        if (q.Length < rows * heads * headDim || dOut.Length < rows * heads * headDim || dq.Length < rows * heads * headDim)
            throw new ArgumentException("q, dOut or dq is smaller than batch·len·heads·hd");
        if (k.Length < rows * kvHeads * headDim || v.Length < rows * kvHeads * headDim
            || dk.Length < rows * kvHeads * headDim || dv.Length < rows * kvHeads * headDim)
            throw new ArgumentException("k, v, dk or dv is smaller than batch·len·kvHeads·hd");
        if (probs.Length < (long)batch * heads * len * len)
            throw new ArgumentException("probs is smaller than batch·heads·len·len");
        if (rows == 0) return;
        unsafe
        {
            fixed (float* pq = q, pk = k, pv = v, pp = probs, pdo = dOut, pdq = dq, pdk = dk, pdv = dv)
            {
                var job = new Job(pq, pk, pv, pp, pdo, pdq, pdk, pdv, len, heads, kvHeads, headDim);
                nint pjob = (nint)(&job);
                Parallelism.For(0, batch * kvHeads, bg => Group(*(Job*)pjob, bg / kvHeads, bg % kvHeads));
            }
        }
    }

    private readonly unsafe struct Job(float* q, float* k, float* v, float* probs, float* dO,
        float* dq, float* dk, float* dv, int len, int heads, int kvHeads, int headDim)
    {
        public readonly float* Q = q, K = k, V = v, Probs = probs, DO = dO, DQ = dq, DK = dk, DV = dv;
        public readonly int Len = len, Heads = heads, KvHeads = kvHeads, HeadDim = headDim;

        /// <summary>Rows [i0, i0+count) of head h (or kv head g) of sequence b in an interleaved-head layout.</summary>
        public MatrixView Rows(float* basePtr, int headsInLayout, int b, int head, int i0, int count)
            => new((nint)(basePtr + (((long)b * Len + i0) * headsInLayout + head) * HeadDim), DType.F32,
                count, HeadDim, (long)headsInLayout * HeadDim, 1);
    }

    /// <summary>All query heads of kv group g of sequence b; this worker owns dk, dv of (b, g).</summary>
    private static unsafe void Group(in Job j, int b, int g)
    {
        int len = j.Len, group = j.Heads / j.KvHeads;
        float scale = 1f / MathF.Sqrt(j.HeadDim);
        int chunk = Math.Min(QueryChunk, len);
        float[] rented = ArrayPool<float>.Shared.Rent(chunk * len);
        try
        {
            fixed (float* dS = rented)
            {
                MatrixView kg = j.Rows(j.K, j.KvHeads, b, g, 0, len), vg = j.Rows(j.V, j.KvHeads, b, g, 0, len);
                float* dkg = j.DK + ((long)b * len * j.KvHeads + g) * j.HeadDim;
                float* dvg = j.DV + ((long)b * len * j.KvHeads + g) * j.HeadDim;
                int ldkv = j.KvHeads * j.HeadDim, ldq = j.Heads * j.HeadDim;
                for (int h = g * group; h < (g + 1) * group; h++)
                {
                    float* P = j.Probs + ((long)b * j.Heads + h) * len * len;
                    for (int i0 = 0; i0 < len; i0 += chunk)
                    {
                        int rows = Math.Min(chunk, len - i0);
                        bool first = h == g * group && i0 == 0; // the first product overwrites dk, dv
                        MatrixView dO = j.Rows(j.DO, j.Heads, b, h, i0, rows), qh = j.Rows(j.Q, j.Heads, b, h, i0, rows);
                        var pc = MatrixView.RowMajor((nint)(P + (long)i0 * len), DType.F32, rows, len);
                        // dv += Pᵀ·dO
                        Gemm.MultiplySerial(pc.T, dO, dvg, ldkv, accumulate: !first);
                        // dP = dO·vᵀ, then dS in place
                        Gemm.MultiplySerial(dO, vg.T, dS, len);
                        for (int i = 0; i < rows; i++)
                        {
                            var p = new ReadOnlySpan<float>(P + (long)(i0 + i) * len, len);
                            var d = new Span<float>(dS + (long)i * len, len);
                            float rowDot = TensorPrimitives.Dot(p, d);
                            TensorPrimitives.AddMultiply(d, -rowDot, p, d); // (dP − rowDot) ⊙ P
                            TensorPrimitives.Multiply(d, scale, d);
                        }
                        var ds = MatrixView.RowMajor((nint)dS, DType.F32, rows, len);
                        // dq = dS·k (rows of this chunk only), dk += dSᵀ·q
                        Gemm.MultiplySerial(ds, kg, j.DQ + (((long)b * len + i0) * j.Heads + h) * j.HeadDim, ldq);
                        Gemm.MultiplySerial(ds.T, qh, dkg, ldkv, accumulate: !first);
                    }
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(rented); }
    }
}
