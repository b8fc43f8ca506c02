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
/// </summary>
public static class Attention
{
    /// <summary>Computes out for every (sequence, head), in parallel over (sequence, head) pairs.</summary>
    public static void Forward(
        ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        int batch, int len, int heads, int kvHeads, int headDim,
        ReadOnlySpan<byte> keyMask = default, bool causal = false)
        => Forward(q, k, v, output, batch, len, heads, kvHeads, headDim,
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
    {
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new ArgumentException($"heads ({heads}) must be a positive multiple of kv heads ({kvHeads})");
        long rows = (long)batch * len;
        if (q.Length < rows * heads * headDim || output.Length < rows * heads * headDim)
            throw new ArgumentException("q or output is smaller than batch·len·heads·hd");
        if (k.Length < rows * kvHeads * headDim || v.Length < rows * kvHeads * headDim)
            throw new ArgumentException("k or v is smaller than batch·len·kvHeads·hd");
        if (!keyMask.IsEmpty && keyMask.Length < rows)
            throw new ArgumentException($"key mask has {keyMask.Length} entries, need {rows}");
        if (!probs.IsEmpty && probs.Length < (long)batch * heads * len * len)
            throw new ArgumentException($"probs has {probs.Length} entries, need batch·heads·len·len");

        // Parallel.For cannot capture spans: hand the workers arrays through a closure over copies
        // of the pointers instead.
        unsafe
        {
            fixed (float* pq = q, pk = k, pv = v, po = output)
            fixed (byte* pm = keyMask)
            fixed (float* pp = probs)
            {
                nint aq = (nint)pq, ak = (nint)pk, av = (nint)pv, ao = (nint)po, am = (nint)pm, ap = (nint)pp;
                bool hasMask = !keyMask.IsEmpty;
                Parallelism.For(0, batch * heads, bh =>
                {
                    int b = bh / heads, h = bh % heads;
                    Head((float*)aq, (float*)ak, (float*)av, (float*)ao, hasMask ? (byte*)am : null,
                        b, h, len, heads, kvHeads, headDim, pattern,
                        ap == 0 ? null : (float*)ap + (long)(b * heads + h) * len * len);
                });
            }
        }
    }

    private static unsafe void Head(float* q, float* k, float* v, float* o, byte* mask,
        int b, int h, int len, int heads, int kvHeads, int hd, AttentionPattern pattern, float* probs)
    {
        int kvh = h / (heads / kvHeads);
        float scale = 1f / MathF.Sqrt(hd);
        float[] rented = ArrayPool<float>.Shared.Rent(len);
        Span<float> scores = rented.AsSpan(0, len);
        try
        {
            for (int i = 0; i < len; i++)
            {
                var qi = new ReadOnlySpan<float>(q + ((long)(b * len + i) * heads + h) * hd, hd);
                int keys = pattern.KeyLimit(i, len);
                for (int j = 0; j < len; j++)
                {
                    bool visible = j < keys && (mask == null || mask[b * len + j] != 0);
                    scores[j] = visible
                        ? TensorPrimitives.Dot(qi, new ReadOnlySpan<float>(k + ((long)(b * len + j) * kvHeads + kvh) * hd, hd)) * scale
                        : float.NegativeInfinity;
                }
                Softmax.InPlace(scores);
                if (probs != null) scores.CopyTo(new Span<float>(probs + (long)i * len, len));
                var oi = new Span<float>(o + ((long)(b * len + i) * heads + h) * hd, hd);
                oi.Clear();
                for (int j = 0; j < len; j++)
                {
                    float p = scores[j];
                    if (p == 0f) continue;
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(v + ((long)(b * len + j) * kvHeads + kvh) * hd, hd), p, oi, oi);
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(rented); }
    }
}
