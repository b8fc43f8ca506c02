using System.Numerics.Tensors;

namespace Dllm.Tensors;

/// <summary>
/// Backward of <see cref="Attention.Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, int, int, AttentionPattern, ReadOnlySpan{byte}, Span{float})"/>
/// from the saved softmax probabilities P (llm.c attention_backward; Vaswani et al. 2017 Eq. 1):
/// <code>
///   S = q·kᵀ/√hd (visible keys),  P = softmax(S),  O = P·v
///   dP_ij = dO_i·v_j
///   dS_ij = P_ij·(dP_ij − Σ_j' P_ij'·dP_ij')        (softmax Jacobian)
///   dq_i  = Σ_j dS_ij·k_j / √hd,   dk_j += Σ_i dS_ij·q_i / √hd,   dv_j += Σ_i P_ij·dO_i
/// </code>
/// Hidden keys have P = 0 so they get no gradient; the pattern and key mask are therefore implied
/// by P and need not be passed again. Under grouped-query attention the query heads of a group
/// add into the same dk, dv rows; work is split by (sequence, kv head) so no two workers write the
/// same row. Layouts as in <see cref="Attention"/>: q, dOut, dq [batch·len × heads × hd];
/// k, v, dk, dv [batch·len × kvHeads × hd]; probs [batch × heads × len × len].
/// </summary>
public static class AttentionBackward
{
    /// <summary>dq is overwritten; dk and dv are overwritten too (they are fully owned by this call).</summary>
    public static void Backward(
        ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> probs,
        ReadOnlySpan<float> dOut, Span<float> dq, Span<float> dk, Span<float> dv,
        int batch, int len, int heads, int kvHeads, int headDim)
    {
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new ArgumentException($"heads ({heads}) must be a positive multiple of kv heads ({kvHeads})");
        long rows = (long)batch * len;
        if (q.Length < rows * heads * headDim || dOut.Length < rows * heads * headDim || dq.Length < rows * heads * headDim)
            throw new ArgumentException("q, dOut or dq is smaller than batch·len·heads·hd");
        if (k.Length < rows * kvHeads * headDim || v.Length < rows * kvHeads * headDim
            || dk.Length < rows * kvHeads * headDim || dv.Length < rows * kvHeads * headDim)
            throw new ArgumentException("k, v, dk or dv is smaller than batch·len·kvHeads·hd");
        if (probs.Length < (long)batch * heads * len * len)
            throw new ArgumentException("probs is smaller than batch·heads·len·len");
        dk[..(int)(rows * kvHeads * headDim)].Clear();
        dv[..(int)(rows * kvHeads * headDim)].Clear();
        unsafe
        {
            fixed (float* pq = q, pk = k, pv = v, pp = probs, pdo = dOut, pdq = dq, pdk = dk, pdv = dv)
            {
                nint aq = (nint)pq, ak = (nint)pk, av = (nint)pv, ap = (nint)pp, ado = (nint)pdo,
                    adq = (nint)pdq, adk = (nint)pdk, adv = (nint)pdv;
                Parallelism.For(0, batch * kvHeads, bg =>
                {
                    int b = bg / kvHeads, g = bg % kvHeads, group = heads / kvHeads;
                    float[] dS = new float[len];
                    for (int h = g * group; h < (g + 1) * group; h++)
                        Head((float*)aq, (float*)ak, (float*)av, (float*)ap, (float*)ado,
                            (float*)adq, (float*)adk, (float*)adv, dS, b, h, g, len, heads, kvHeads, headDim);
                });
            }
        }
    }

    private static unsafe void Head(float* q, float* k, float* v, float* probs, float* dO,
        float* dq, float* dk, float* dv, float[] dS, int b, int h, int g, int len, int heads, int kvHeads, int hd)
    {
        float scale = 1f / MathF.Sqrt(hd);
        float* P = probs + (long)(b * heads + h) * len * len;
        for (int i = 0; i < len; i++)
        {
            float* Pi = P + (long)i * len;
            var dOi = new ReadOnlySpan<float>(dO + ((long)(b * len + i) * heads + h) * hd, hd);
            var qi = new ReadOnlySpan<float>(q + ((long)(b * len + i) * heads + h) * hd, hd);
            var dqi = new Span<float>(dq + ((long)(b * len + i) * heads + h) * hd, hd);
            dqi.Clear();
            // dP_ij and Σ_j P_ij dP_ij
            double dot = 0;
            for (int j = 0; j < len; j++)
            {
                float p = Pi[j];
                if (p == 0f) { dS[j] = 0f; continue; }
                long kvOff = ((long)(b * len + j) * kvHeads + g) * hd;
                float dp = TensorPrimitives.Dot(dOi, new ReadOnlySpan<float>(v + kvOff, hd));
                dS[j] = dp;
                dot += (double)p * dp;
                // dv_j += P_ij · dO_i
                var dvj = new Span<float>(dv + kvOff, hd);
                TensorPrimitives.MultiplyAdd(dOi, p, dvj, dvj);
            }
            for (int j = 0; j < len; j++)
            {
                float p = Pi[j];
                if (p == 0f) continue;
                float ds = p * (dS[j] - (float)dot) * scale;
                long kvOff = ((long)(b * len + j) * kvHeads + g) * hd;
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(k + kvOff, hd), ds, dqi, dqi);
                var dkj = new Span<float>(dk + kvOff, hd);
                TensorPrimitives.MultiplyAdd(qi, ds, dkj, dkj);
            }
        }
    }
}
