using System.Runtime.CompilerServices;

namespace Dllm.Tensors;

/// <summary>
/// ggml's Q5_K (ggml-common.h <c>block_q5_K</c>, QK_K = 256), quantized exactly as ggml-quants.c <c>quantize_row_q5_K_ref</c>
/// does (<c>llama-quantize</c> without an importance matrix; the bulk of llama.cpp's Q5_K_M and Q5_K_S files).
/// <code>
///   bytes 0..1     d     (f16)  super-block scale of the sub-block scales
///   bytes 2..3     dmin  (f16)  super-block scale of the sub-block mins
///   bytes 4..15    scales[12]   6-bit sc_j and m_j of the 8 sub-blocks of 32, packed as Q4_K's (<see cref="ScaleMinK4"/>)
///   bytes 16..47   qh[32]       bit j of qh[l] is bit 4 of the code of value 32j + l (sub-block j, l &lt; 32)
///   bytes 48..175  qs[128]      low 4 bits: value 64p + l (l &lt; 32) is the low nibble of qs[32p + l], 64p + 32 + l its high nibble
///   value i of sub-block j = d·sc_j · q_i − dmin·m_j     (q_i in 0..31)
/// </code>
/// Quantization as Q4_K's (<c>QuantBlocks.Q4K.cs</c>) with 31 steps: each sub-block's scale and min from
/// <c>make_qkx2_quants</c> (weights √(mean x²) + |x|, nmax 31, 16 candidate inverse scales (−0.5 + 0.1·k + 31)/(max − min)),
/// the 8 scales and mins quantized to 6 bits against their maxima (d = max_scale/63, dmin = max_min/63, stored f16), and each
/// value re-quantized with the stored scales, q = clamp(round((x + dmin·m)/(d·sc)), 0, 31). A sub-block whose stored d·sc is 0
/// keeps the codes of the fit; an all-zero super-block is all zero bytes.
/// </summary>
public static unsafe partial class QuantBlocks
{
    [SkipLocalsInit]
    private static void Q5KBlock(float* x, byte* y)
    {
        byte* l = stackalloc byte[QK];
        FitScalesAndMinsK(x, y, l, nmax: 31, rmin: -0.5f, nstep: 15);
        byte* qh = y + 16, q = y + 48;
        new Span<byte>(qh, 32).Clear();
        for (int j = 0; j < QK; j += 64, q += 32)
        {
            int pair = j / 64; // sub-blocks 2·pair (low nibbles, qh bit 2·pair) and 2·pair + 1 (high nibbles, bit 2·pair + 1)
            for (int i = 0; i < 32; i++)
            {
                int l1 = l[j + i], l2 = l[j + i + 32];
                qh[i] |= (byte)(((l1 >> 4) << (2 * pair)) | ((l2 >> 4) << (2 * pair + 1)));
                q[i] = (byte)((l1 & 0xF) | ((l2 & 0xF) << 4));
            }
        }
    }

    /// <summary>The 32 codes q (0..31) of sub-block <paramref name="j"/> (0..7) of the Q5_K super-block at <paramref name="sb"/>, in
    /// value order, and its scale d·sc and offset −dmin·m (value = scale·q + offset): ggml's <c>dequantize_row_q5_K</c> reading.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (float Scale, float Offset) Q5KSubBlockCodes(byte* sb, int j, sbyte* v)
    {
        byte* qh = sb + 16, q = sb + 48 + 32 * (j / 2);
        int shift = 4 * (j & 1);
        for (int i = 0; i < 32; i++) v[i] = (sbyte)(((q[i] >> shift) & 0xF) | (((qh[i] >> j) & 1) << 4));
        return KSubBlockScale(sb, j);
    }

    /// <summary>ggml's <c>dequantize_row_q5_K</c>: value = (d·sc)·q − dmin·m, in that float order.</summary>
    [SkipLocalsInit]
    private static void DequantizeQ5K(byte* p, Span<float> dst)
    {
        sbyte* v = stackalloc sbyte[32];
        for (int b = 0; b < dst.Length / QK; b++, p += DType.Q5_K.BlockBytes())
            for (int j = 0; j < 8; j++)
            {
                var (dj, offset) = Q5KSubBlockCodes(p, j, v);
                for (int i = 0; i < 32; i++) dst[b * QK + 32 * j + i] = dj * v[i] + offset;
            }
    }
}
