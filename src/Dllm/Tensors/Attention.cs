using System.Buffers;
using System.Numerics.Tensors;

namespace Dllm.Tensors;

/// <summary>
/// Scaled dot-product attention over a batch, softmax(q·kᵀ/√hd)·v, with multi-head and
/// grouped-query layouts (query head h reads kv head h / (heads / kvHeads)), an optional
/// key padding mask and an <see cref="AttentionPattern"/> (bidirectional, causal or block-causal).
/// LLaDA is bidirectional: no causal mask.
/// Layouts (row-major): q, out [batch·len × heads × hd]; k, v [batch·len × kvHeads × hd];
/// keyMask [batch·len], nonzero = the key may be attended to.
/// The windowed form lets a subset of query rows (a KV-cache window) attend to all keys.
/// </summary>
public static class Attention
{
    /// <summary>Computes out for every (sequence, head), in parallel over (sequence, head) pairs.</summary>
    public static void Forward(
        ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        int batch, int len, int heads, int kvHeads, int headDim,
        ReadOnlySpan<byte> keyMask = default, bool causal = false)
        => Forward(q, k, v, output, batch, len, 0, len, heads, kvHeads, headDim,
            causal ? AttentionPattern.Causal : AttentionPattern.Bidirectional, keyMask);

    /// <summary>
    /// As above with an <see cref="AttentionPattern"/>. When <paramref name="probs"/> is not empty it
    /// receives the softmax probabilities [batch × heads × len × len] (row i of head h of sequence b at
    /// ((b·heads + h)·len + i)·len), zero for hidden keys, for <see cref="AttentionBackward"/>.
    /// A query that sees no key (all masked) gets a zero output and a zero probability row.
    /// </summary>
    public static void Forward(
        ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        int batch, int len, int heads, int kvHeads, int headDim,
        AttentionPattern pattern, ReadOnlySpan<byte> keyMask = default, Span<float> probs = default)
        => Forward(q, k, v, output, batch, len, 0, len, heads, kvHeads, headDim, pattern, keyMask, probs);

    /// <summary>
    /// Windowed attention: each sequence has <paramref name="queryLen"/> query rows at absolute
    /// positions queryOffset.. (q, out: [batch·queryLen × heads × hd]) attending to
    /// <paramref name="keyLen"/> keys (k, v: [batch·keyLen × kvHeads × hd]; keyMask [batch·keyLen]).
    /// Query position p sees keys [0, pattern.KeyLimit(p, keyLen)). A query row that sees no key gets
    /// zeros. probs, when given, is [batch × heads × queryLen × keyLen].
    /// </summary>
    public static void Forward(
        ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        int batch, int queryLen, int queryOffset, int keyLen, int heads, int kvHeads, int headDim,
        AttentionPattern pattern = default, ReadOnlySpan<byte> keyMask = default, Span<float> probs = default)
    {
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new ArgumentException($"heads ({heads}) must be a positive multiple of kv heads ({kvHeads})");
        if (queryOffset < 0 || queryOffset + queryLen > keyLen)
            throw new ArgumentException($"query window [{queryOffset}, {queryOffset + queryLen}) is outside the {keyLen} keys");
        long qRows = (long)batch * queryLen, kRows = (long)batch * keyLen;
        if (q.Length < qRows * heads * headDim || output.Length < qRows * heads * headDim)
            throw new ArgumentException("q or output is smaller than batch·queryLen·heads·hd");
        if (k.Length < kRows * kvHeads * headDim || v.Length < kRows * kvHeads * headDim)
            throw new ArgumentException("k or v is smaller than batch·keyLen·kvHeads·hd");
        if (!keyMask.IsEmpty && keyMask.Length < kRows)
            throw new ArgumentException($"key mask has {keyMask.Length} entries, need {kRows}");
        if (!probs.IsEmpty && probs.Length < (long)batch * heads * queryLen * keyLen)
            throw new ArgumentException($"probs has {probs.Length} entries, need batch·heads·queryLen·keyLen");

        // A lambda (the parallel body) cannot capture spans: the workers get raw addresses, valid while pinned here.
        unsafe
        {
            fixed (float* pq = q, pk = k, pv = v, po = output)
            fixed (byte* pm = keyMask)
            fixed (float* pp = probs)
            {
                var job = new HeadJob((float*)pq, (float*)pk, (float*)pv, (float*)po, keyMask.IsEmpty ? null : pm,
                    probs.IsEmpty ? null : pp, queryLen, queryOffset, keyLen, heads, kvHeads, headDim, pattern);
                nint pjob = (nint)(&job);
                Parallelism.For(0, batch * heads, bh => Head(*(HeadJob*)pjob, bh / heads, bh % heads));
            }
        }
    }

    private readonly unsafe struct HeadJob(float* q, float* k, float* v, float* o, byte* mask, float* probs,
        int queryLen, int queryOffset, int keyLen, int heads, int kvHeads, int headDim, AttentionPattern pattern)
    {
        public readonly float* Q = q, K = k, V = v, O = o, Probs = probs;
        public readonly byte* Mask = mask;
        public readonly int QueryLen = queryLen, QueryOffset = queryOffset, KeyLen = keyLen;
        public readonly int Heads = heads, KvHeads = kvHeads, HeadDim = headDim;
        public readonly AttentionPattern Pattern = pattern;
    }

    /// <summary>Query rows per chunk: bounds the score matrix at QueryChunk × keyLen floats per worker.</summary>
    private const int QueryChunk = 128;

    /// <summary>
    /// One (sequence, head): S = Q·Kᵀ·scale [queries × keys] by GEMM, mask, row softmax, O = S·V.
    /// Q, K, V and O are strided views into the interleaved-head layouts; nothing is copied.
    /// </summary>
    private static unsafe void Head(in HeadJob j, int b, int h)
    {
        int hd = j.HeadDim, heads = j.Heads, kvHeads = j.KvHeads, keyLen = j.KeyLen;
        int kvh = h / (heads / kvHeads);
        float scale = 1f / MathF.Sqrt(hd);
        int chunk = Math.Min(QueryChunk, j.QueryLen);
        // When the probabilities are kept (training), the scores are computed, normalised and read
        // back in place in the probs rows of this head, which saves a copy; otherwise in scratch.
        float[] rented = ArrayPool<float>.Shared.Rent(j.Probs == null ? chunk * keyLen : 1);
        try
        {
            fixed (float* scratch = rented)
            {
                var kView = new MatrixView((nint)(j.K + ((long)b * keyLen * kvHeads + kvh) * hd), DType.F32, keyLen, hd, (long)kvHeads * hd, 1);
                var vView = new MatrixView((nint)(j.V + ((long)b * keyLen * kvHeads + kvh) * hd), DType.F32, keyLen, hd, (long)kvHeads * hd, 1);
                for (int i0 = 0; i0 < j.QueryLen; i0 += chunk)
                {
                    int rows = Math.Min(chunk, j.QueryLen - i0);
                    float* s = j.Probs == null ? scratch : j.Probs + (((long)b * heads + h) * j.QueryLen + i0) * keyLen;
                    var qView = new MatrixView((nint)(j.Q + (((long)b * j.QueryLen + i0) * heads + h) * hd), DType.F32, rows, hd, (long)heads * hd, 1);
                    Gemm.MultiplySerial(qView, kView.T, s, keyLen);
                    for (int i = 0; i < rows; i++)
                    {
                        Span<float> row = new(s + (long)i * keyLen, keyLen);
                        TensorPrimitives.Multiply(row, scale, row);
                        int visibleKeys = j.Pattern.KeyLimit(j.QueryOffset + i0 + i, keyLen);
                        j.Pattern.Hide(j.QueryOffset + i0 + i, keyLen, row);
                        if (j.Mask != null)
                            for (int t = 0; t < visibleKeys; t++)
                                if (j.Mask[b * keyLen + t] == 0) row[t] = float.NegativeInfinity;
                        Softmax.InPlace(row);
                    }
                    var pView = MatrixView.RowMajor((nint)s, DType.F32, rows, keyLen);
                    Gemm.MultiplySerial(pView, vView, j.O + (((long)b * j.QueryLen + i0) * heads + h) * hd, heads * hd);
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(rented); }
    }
}
