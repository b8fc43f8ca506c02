using System.Runtime.CompilerServices;

namespace Dllm.Tensors;

/// <summary>
/// ggml's Q4_K (ggml-common.h <c>block_q4_K</c>, QK_K = 256), quantized exactly as ggml-quants.c
/// <c>quantize_row_q4_K_ref</c> does (what <c>llama-quantize</c> uses without an importance matrix), so the bytes equal llama.cpp's.
/// <code>
///   bytes 0..1    d     (f16)  super-block scale of the sub-block scales
///   bytes 2..3    dmin  (f16)  super-block scale of the sub-block mins
///   bytes 4..15   scales[12]   6-bit sc_j and m_j of the 8 sub-blocks of 32 (get_scale_min_k4):
///                              j &lt; 4: sc = s[j] &amp; 63, m = s[j+4] &amp; 63;
///                              j ≥ 4: sc = (s[j+4] &amp; 15) | (s[j−4] &gt;&gt; 6) &lt;&lt; 4, m = (s[j+4] &gt;&gt; 4) | (s[j] &gt;&gt; 6) &lt;&lt; 4
///   bytes 16..143 qs[128]      value 64p + l (l &lt; 32) is the low nibble of qs[32p + l], value 64p + 32 + l its high nibble
///   value i of sub-block j = d·sc_j · q_i − dmin·m_j     (q_i in 0..15)
/// </code>
/// Quantization per super-block: each sub-block gets a scale and min from <c>make_qkx2_quants</c> (weights
/// √(mean x²) + |x|, nmax 15, a search over 21 candidate inverse scales (−1 + 0.1·k + 15)/(max − min) fitting scale and
/// min by weighted least squares, min ≤ 0); the 8 scales and 8 mins are then quantized to 6 bits against their maxima
/// (d = max_scale/63, dmin = max_min/63, stored f16), and each value re-quantized with the stored scales:
/// q = clamp(round((x + dmin·m)/(d·sc)), 0, 15). Rounding is ggml's <c>nearest_int</c> (round half to even via the
/// 1.5·2²³ trick), every sum in ggml's order, in float. A sub-block whose stored d·sc is 0 keeps the codes of the fit.
/// </summary>
public static unsafe partial class QuantBlocks
{
    private const int QK = DTypeInfo.SuperBlock;

    /// <summary>ggml's <c>nearest_int</c>: round half to even for |x| ≤ 4194303 (as the float add of 1.5·2²³ rounds).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NearestInt(float x) => (BitConverter.SingleToInt32Bits(x + 12582912f) & 0x007fffff) - 0x00400000;

    /// <summary>Scale and min (returned negated, as <paramref name="theMin"/> ≥ 0) of one sub-block: ggml's
    /// <c>make_qkx2_quants(n, nmax, x, weights, L, &amp;min, Laux, rmin, rdelta, nstep, use_mad = false)</c>.</summary>
    private static float MakeQkx2(int n, int nmax, float* x, float* weights, byte* l, out float theMin, byte* laux, float rmin, float rdelta, int nstep)
    {
        float min = x[0], max = x[0], sumW = weights[0], sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            for (int i = 0; i < n; i++) l[i] = 0;
            theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min), scale = 1 / iscale, bestError = 0;
        for (int i = 0; i < n; i++)
        {
            l[i] = (byte)Math.Max(0, Math.Min(nmax, NearestInt(iscale * (x[i] - min))));
            float diff = scale * l[i] + min - x[i];
            bestError += weights[i] * (diff * diff);
        }
        for (int s = 0; s <= nstep; s++)
        {
            iscale = (rmin + rdelta * s + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int q = Math.Max(0, Math.Min(nmax, NearestInt(iscale * (x[i] - min))));
                laux[i] = (byte)q;
                float w = weights[i];
                sumL += w * q;
                sumL2 += w * q * q;
                sumXL += w * q * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / det, thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float error = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * laux[i] + thisMin - x[i];
                    error += weights[i] * (diff * diff);
                }
                if (error < bestError)
                {
                    for (int i = 0; i < n; i++) l[i] = laux[i];
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    /// <summary>ggml's <c>get_scale_min_k4</c>: the 6-bit scale and min of sub-block <paramref name="j"/> (0..7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (int Scale, int Min) ScaleMinK4(int j, byte* s) => j < 4
        ? (s[j] & 63, s[j + 4] & 63)
        : ((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4));

    /// <summary>
    /// The part ggml's <c>quantize_row_q4_K_ref</c> and <c>quantize_row_q5_K_ref</c> share: fits each 32-value sub-block of the
    /// 256 values at <paramref name="x"/> with codes 0..<paramref name="nmax"/> (<see cref="MakeQkx2"/> with that rmin and
    /// step count), writes the super-block header at <paramref name="y"/> (f16 d and dmin, then the eight 6-bit scales and
    /// mins packed into 12 bytes, each quantized against the largest) and puts into <paramref name="l"/> the final codes
    /// against the header's rounded scales (a sub-block whose scale rounds to 0 keeps its fit's codes).
    /// </summary>
    [SkipLocalsInit]
    private static void FitScalesAndMinsK(float* x, byte* y, byte* l, int nmax, float rmin, int nstep)
    {
        byte* laux = stackalloc byte[32];
        float* weights = stackalloc float[32];
        float* mins = stackalloc float[8];
        float* scales = stackalloc float[8];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            float* xj = x + 32 * j;
            float sumX2 = 0;
            for (int i = 0; i < 32; i++) sumX2 += xj[i] * xj[i];
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int i = 0; i < 32; i++) weights[i] = avX + MathF.Abs(xj[i]);
            scales[j] = MakeQkx2(32, nmax, xj, weights, l + 32 * j, out mins[j], laux, rmin, 0.1f, nstep);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f, invMin = maxMin > 0 ? 63f / maxMin : 0f;
        byte* sc = y + 4;
        for (int j = 0; j < 8; j++)
        {
            byte ls = Math.Min((byte)63, unchecked((byte)NearestInt(invScale * scales[j])));
            byte lm = Math.Min((byte)63, unchecked((byte)NearestInt(invMin * mins[j])));
            if (j < 4)
            {
                sc[j] = ls;
                sc[j + 4] = lm;
            }
            else // sub-blocks 4..7: low 4 bits in bytes 8..11, high 2 bits in the top of bytes 0..7
            {
                sc[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                sc[j - 4] |= (byte)((ls >> 4) << 6);
                sc[j] |= (byte)((lm >> 4) << 6);
            }
        }
        *(Half*)y = (Half)(maxScale / 63f);
        *(Half*)(y + 2) = (Half)(maxMin / 63f);
        float d = Scale(y), dmin = Scale(y + 2);
        for (int j = 0; j < 8; j++)
        {
            var (s, m) = ScaleMinK4(j, sc);
            float dj = d * s;
            if (dj == 0) continue;
            float dm = dmin * m;
            for (int i = 0; i < 32; i++) l[32 * j + i] = (byte)Math.Max(0, Math.Min(nmax, NearestInt((x[32 * j + i] + dm) / dj)));
        }
    }

    /// <summary>Sub-block <paramref name="j"/> (0..7) of a Q4_K or Q5_K super-block at <paramref name="sb"/> (the two share the
    /// header: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins): its scale d·sc and offset −dmin·m (value = scale·q + offset).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (float Scale, float Offset) KSubBlockScale(byte* sb, int j)
    {
        var (s, m) = ScaleMinK4(j, sb + 4);
        return (Scale(sb) * s, -(Scale(sb + 2) * m));
    }

    [SkipLocalsInit]
    private static void Q4KBlock(float* x, byte* y)
    {
        byte* l = stackalloc byte[QK];
        FitScalesAndMinsK(x, y, l, nmax: 15, rmin: -1f, nstep: 20);
        byte* q = y + 16;
        for (int j = 0; j < QK; j += 64, q += 32)
            for (int i = 0; i < 32; i++) q[i] = (byte)(l[j + i] | (l[j + i + 32] << 4));
    }

    /// <summary>ggml's <c>dequantize_row_q4_K</c>: value = (d·sc)·q − dmin·m, in that float order.</summary>
    private static void DequantizeQ4K(byte* p, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / QK; b++, p += DType.Q4_K.BlockBytes())
        {
            float d = Scale(p), dmin = Scale(p + 2);
            Span<float> o = dst.Slice(b * QK, QK);
            for (int j = 0; j < 8; j++)
            {
                var (s, m) = ScaleMinK4(j, p + 4);
                float dj = d * s, mj = dmin * m;
                byte* q = p + 16 + 32 * (j / 2);
                int shift = 4 * (j & 1);
                for (int i = 0; i < 32; i++) o[32 * j + i] = dj * ((q[i] >> shift) & 0xF) - mj;
            }
        }
    }
}
