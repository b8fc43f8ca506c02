using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Dllm.Tensors;

/// <summary>
/// ggml's Q5_0 (ggml-common.h <c>block_q5_0</c>, 32 values), quantized exactly as ggml-quants.c <c>quantize_row_q5_0_ref</c>
/// does (<c>llama-quantize</c> without an importance matrix; llama.cpp's Q4_K files fall back to it for rows that are not whole
/// 256-value super-blocks).
/// <code>
///   bytes 0..1    d      (f16)
///   bytes 2..5    qh     uint32, little-endian: bit j is bit 4 of the code of value j (j = 0..31)
///   bytes 6..21   qs[16] byte j: low 4 bits of value j (low nibble) and of value j + 16 (high nibble)
///   value = d·(q − 16), q = 0..31
/// </code>
/// Quantization, as Q4_0 with 16 steps: m = the value of largest magnitude (the first one on ties), d = m / −16 (stored f16; the
/// float before rounding quantizes), q = min(31, trunc(x/d + 16.5)) (so m itself gets q = 0 and +16 steps clip to 31). An
/// all-zero block has d = 0 and every q = 16. NaN inputs give unspecified (but in-range) codes, as in ggml.
/// </summary>
public static unsafe partial class QuantBlocks
{
    private static void Q50Block(float* x, byte* y)
    {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
            if (amax < MathF.Abs(x[j])) { amax = MathF.Abs(x[j]); max = x[j]; }
        float d = max / -16f, id = d != 0 ? 1f / d : 0f;
        *(Half*)y = (Half)d;
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            // C's float → int8_t conversion truncates; the codes are 0..32 here, so the casts below do the same.
            int lo = Math.Min(31, (int)(sbyte)(int)(x[j] * id + 16.5f));
            int hi = Math.Min(31, (int)(sbyte)(int)(x[j + 16] * id + 16.5f));
            y[6 + j] = (byte)((lo & 0xF) | (hi & 0xF) << 4);
            qh |= (uint)((lo >> 4) & 1) << j;
            qh |= (uint)((hi >> 4) & 1) << (j + 16);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(y + 2, 4), qh);
    }

    /// <summary>The 32 codes q − 16 (−16..15) of the Q5_0 block at <paramref name="blk"/>, in value order (the int8 operand of
    /// <see cref="QuantGemm"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Q50Codes(byte* blk, sbyte* v)
    {
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(blk + 2, 4));
        for (int j = 0; j < 16; j++)
        {
            v[j] = (sbyte)(((blk[6 + j] & 0xF) | (int)((qh >> j) & 1) << 4) - 16);
            v[j + 16] = (sbyte)(((blk[6 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4) - 16);
        }
    }

    /// <summary>ggml's <c>dequantize_row_q5_0</c>: value = (q − 16)·d.</summary>
    [SkipLocalsInit]
    private static void DequantizeQ50(byte* p, Span<float> dst)
    {
        sbyte* v = stackalloc sbyte[32];
        for (int b = 0; b < dst.Length / 32; b++, p += DType.Q5_0.BlockBytes())
        {
            float d = Scale(p);
            Q50Codes(p, v);
            for (int j = 0; j < 32; j++) dst[b * 32 + j] = v[j] * d;
        }
    }
}
