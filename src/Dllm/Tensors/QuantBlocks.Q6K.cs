using System.Runtime.CompilerServices;

namespace Dllm.Tensors;

/// <summary>
/// ggml's Q6_K (ggml-common.h <c>block_q6_K</c>, QK_K = 256), quantized exactly as ggml-quants.c
/// <c>quantize_row_q6_K_ref</c> does (<c>llama-quantize</c> without an importance matrix; Q4_K_M files keep the output
/// matrix and part of attn_v / ffn_down in it).
/// <code>
///   bytes 0..127    ql[128]   low 4 bits: for half h (128 values) and l &lt; 32, ql[64h + l] holds values 128h + l (low
///                             nibble) and 128h + 64 + l (high), ql[64h + 32 + l] values 128h + 32 + l and 128h + 96 + l
///   bytes 128..191  qh[64]    high 2 bits: qh[32h + l] bits 2g..2g+1 belong to value 128h + 32g + l (g = 0..3)
///   bytes 192..207  scales[16] int8, one per 16 values: value 128h + 32g + l uses scales[8h + 2g + l/16]
///   bytes 208..209  d (f16)
///   value = d·sc·(q − 32), q = 0..63
/// </code>
/// Quantization: each 16-value group gets a scale from <c>make_qx_quants(16, 32, x, L, rmse_type 1, no weights)</c>
/// (start from −32/max, then the best of 18 nearby inverse scales by weighted least squares with weights x²); the 16
/// scales are quantized to int8 against the one of largest magnitude (d = max_scale/−128, stored f16), and every value
/// re-quantized with its stored scale, q = clamp(round(x/(d·sc)), −32, 31) + 32. A super-block whose scales are all
/// below 1e-15 is all zero bytes.
/// </summary>
public static unsafe partial class QuantBlocks
{
    /// <summary>ggml's <c>make_qx_quants(n, nmax, x, L, rmse_type = 1, qw = NULL)</c>: codes L in 0..2·nmax−1, the scale returned.</summary>
    private static float MakeQx(int n, int nmax, float* x, sbyte* l)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < 1e-15f) // GROUP_MAX_EPS
        {
            for (int i = 0; i < n; i++) l[i] = 0;
            return 0f;
        }
        float iscale = -nmax / max, sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++)
        {
            int q = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
            l[i] = (sbyte)(q + nmax);
            float w = x[i] * x[i];
            sumLX += w * x[i] * q;
            sumL2 += w * q * q;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0f, best = scale * sumLX;
        for (int s = -9; s <= 9; s++)
        {
            if (s == 0) continue;
            iscale = -(nmax + 0.1f * s) / max;
            sumLX = sumL2 = 0;
            for (int i = 0; i < n; i++)
            {
                int q = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
                float w = x[i] * x[i];
                sumLX += w * x[i] * q;
                sumL2 += w * q * q;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2)
            {
                for (int i = 0; i < n; i++) l[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i]))));
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }

    [SkipLocalsInit]
    private static void Q6KBlock(float* x, byte* y)
    {
        sbyte* l = stackalloc sbyte[QK];
        float* scales = stackalloc float[16];
        float maxScale = 0, maxAbsScale = 0;
        for (int g = 0; g < 16; g++)
        {
            scales[g] = MakeQx(16, 32, x + 16 * g, l + 16 * g);
            float a = MathF.Abs(scales[g]);
            if (a > maxAbsScale) { maxAbsScale = a; maxScale = scales[g]; }
        }
        if (maxAbsScale < 1e-15f)
        {
            new Span<byte>(y, DType.Q6_K.BlockBytes()).Clear();
            return;
        }
        float iscale = -128f / maxScale;
        *(Half*)(y + 208) = (Half)(1 / iscale);
        sbyte* sc = (sbyte*)(y + 192);
        for (int g = 0; g < 16; g++) sc[g] = (sbyte)Math.Min(127, NearestInt(iscale * scales[g]));
        float d0 = Scale(y + 208);
        for (int g = 0; g < 16; g++)
        {
            float d = d0 * sc[g];
            if (d == 0) continue;
            for (int i = 0; i < 16; i++) l[16 * g + i] = (sbyte)(Math.Max(-32, Math.Min(31, NearestInt(x[16 * g + i] / d))) + 32);
        }
        byte* ql = y, qh = y + 128;
        for (int j = 0; j < QK; j += 128, ql += 64, qh += 32)
            for (int i = 0; i < 32; i++)
            {
                int q1 = l[j + i], q2 = l[j + i + 32], q3 = l[j + i + 64], q4 = l[j + i + 96];
                ql[i] = (byte)((q1 & 0xF) | ((q3 & 0xF) << 4));
                ql[i + 32] = (byte)((q2 & 0xF) | ((q4 & 0xF) << 4));
                qh[i] = (byte)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
    }

    /// <summary>The 32 codes q − 32 (−32..31) of 32-value block <paramref name="b"/> (0..7) of a Q6_K super-block, and its two
    /// int8 scales (values 0..15 and 16..31): ggml's <c>dequantize_row_q6_K</c> order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (int Low, int High) Q6KBlockCodes(byte* sb, int b, sbyte* v)
    {
        int h = b / 4, g = b % 4;
        byte* ql = sb + 64 * h + (g & 1) * 32, qh = sb + 128 + 32 * h;
        int shift = (g >> 1) * 4;
        for (int i = 0; i < 32; i++) v[i] = (sbyte)((((ql[i] >> shift) & 0xF) | (((qh[i] >> (2 * g)) & 3) << 4)) - 32);
        sbyte* sc = (sbyte*)(sb + 192) + 8 * h + 2 * g;
        return (sc[0], sc[1]);
    }

    /// <summary>ggml's <c>dequantize_row_q6_K</c>: value = (d·sc)·(q − 32), in that float order.</summary>
    [SkipLocalsInit]
    private static void DequantizeQ6K(byte* p, Span<float> dst)
    {
        sbyte* v = stackalloc sbyte[32];
        for (int s = 0; s < dst.Length / QK; s++, p += DType.Q6_K.BlockBytes())
        {
            float d = Scale(p + 208);
            for (int b = 0; b < 8; b++)
            {
                var (lo, hi) = Q6KBlockCodes(p, b, v);
                float dl = d * lo, dh = d * hi;
                for (int i = 0; i < 32; i++) dst[s * QK + 32 * b + i] = (i < 16 ? dl : dh) * v[i];
            }
        }
    }
}
