using System.Runtime.CompilerServices;

namespace Dllm.Tensors;

/// <summary>
/// ggml's block formats Q8_0 and Q4_0 (ggml-common.h <c>block_q8_0</c> / <c>block_q4_0</c>; the rounding of
/// ggml-quants.c <c>quantize_row_q8_0_ref</c> / <c>quantize_row_q4_0_ref</c>), so a row quantized here is
/// byte-identical to one llama.cpp's reference quantizer writes and a GGUF tensor can be memory-mapped as is.
/// <list type="bullet">
/// <item>Q8_0 (34 bytes): d = max|x| / 127 stored as f16, q = round(x / d) (half away from zero), value = q·d.</item>
/// <item>Q4_0 (18 bytes): m = the value of largest magnitude (the first one on ties), d = m / −8 stored as f16,
/// nibble = min(15, trunc(x / d + 8.5)), byte j = nibble(j) | nibble(j + 16) &lt;&lt; 4, value = (nibble − 8)·d.</item>
/// </list>
/// The scale used to quantize is the float before its rounding to f16, as in ggml; an all-zero block has d = 0
/// and all q = 0 (Q4_0: nibble 8). NaN inputs give unspecified (but in-range) codes, as in ggml.
/// Q5_0 is in <c>QuantBlocks.Q50.cs</c>; Q4_K, Q5_K and Q6_K, ggml's 4-, 5- and 6-bit K-quants, in <c>QuantBlocks.Q4K.cs</c>,
/// <c>QuantBlocks.Q5K.cs</c> and <c>QuantBlocks.Q6K.cs</c>.
/// </summary>
public static unsafe partial class QuantBlocks
{
    /// <summary>Quantizes <paramref name="src"/> (whole blocks: a multiple of 32 values, of 256 for the K-quants) into whole blocks at <paramref name="dst"/>
    /// (<see cref="DTypeInfo.ByteCount"/> bytes).</summary>
    /// <exception cref="ArgumentException">Not a quantized type, a length that is not whole blocks, or dst too short.</exception>
    public static void Quantize(ReadOnlySpan<float> src, DType type, Span<byte> dst)
    {
        long bytes = type.ByteCount(src.Length);
        if (dst.Length < bytes) throw new ArgumentException($"destination has {dst.Length} bytes, {bytes} needed", nameof(dst));
        int bb = type.BlockBytes(), n = type.BlockValues();
        long blocks = src.Length / n;
        // Blocks are independent: large tensors are split over the threads (the same bytes whatever the split).
        int parts = (int)Math.Clamp(blocks * n / (1 << 18), 1, Parallelism.Threads);
        fixed (float* s = src) fixed (byte* d = dst)
        {
            nint sp = (nint)s, dp = (nint)d;
            void Part(int part)
            {
                for (long b = blocks * part / parts; b < blocks * (part + 1) / parts; b++)
                {
                    float* x = (float*)sp + b * n;
                    byte* y = (byte*)dp + b * bb;
                    switch (type)
                    {
                        case DType.Q8_0: Q8Block(x, y); break;
                        case DType.Q4_0: Q4Block(x, y); break;
                        case DType.Q5_0: Q50Block(x, y); break;
                        case DType.Q4_K: Q4KBlock(x, y); break;
                        case DType.Q5_K: Q5KBlock(x, y); break;
                        default: Q6KBlock(x, y); break;
                    }
                }
            }
            if (parts == 1) Part(0);
            else Parallelism.For(0, parts, Part);
        }
    }

    /// <summary>Quantizes a float array into a new byte array (see <see cref="Quantize(ReadOnlySpan{float}, DType, Span{byte})"/>).</summary>
    public static byte[] Quantize(ReadOnlySpan<float> src, DType type)
    {
        var r = new byte[type.ByteCount(src.Length)];
        Quantize(src, type, r);
        return r;
    }

    private static void Q8Block(float* x, byte* y)
    {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
        float d = amax / 127f, id = d != 0 ? 1f / d : 0f;
        *(Half*)y = (Half)d;
        sbyte* q = (sbyte*)(y + 2);
        for (int j = 0; j < 32; j++) q[j] = (sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
    }

    private static void Q4Block(float* x, byte* y)
    {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
            if (amax < MathF.Abs(x[j])) { amax = MathF.Abs(x[j]); max = x[j]; }
        float d = max / -8f, id = d != 0 ? 1f / d : 0f;
        *(Half*)y = (Half)d;
        for (int j = 0; j < 16; j++)
        {
            int lo = Math.Min(15, (int)(sbyte)(int)(x[j] * id + 8.5f));
            int hi = Math.Min(15, (int)(sbyte)(int)(x[j + 16] * id + 8.5f));
            y[2 + j] = (byte)((lo & 0xF) | (hi & 0xF) << 4);
        }
    }

    /// <summary>Widens whole blocks at <paramref name="src"/> to <paramref name="dst"/>.Length (a multiple of the block) floats.</summary>
    /// <exception cref="ArgumentException">Not a quantized type or not whole blocks.</exception>
    public static void Dequantize(nint src, DType type, Span<float> dst)
    {
        _ = type.ByteCount(dst.Length);
        if (type == DType.Q4_K) { DequantizeQ4K((byte*)src, dst); return; }
        if (type == DType.Q6_K) { DequantizeQ6K((byte*)src, dst); return; }
        if (type == DType.Q5_0) { DequantizeQ50((byte*)src, dst); return; }
        if (type == DType.Q5_K) { DequantizeQ5K((byte*)src, dst); return; }
        int bb = type.BlockBytes();
        byte* p = (byte*)src;
        for (int b = 0; b < dst.Length / 32; b++, p += bb)
        {
            float d = Scale(p);
            Span<float> o = dst.Slice(b * 32, 32);
            if (type == DType.Q8_0)
                for (int j = 0; j < 32; j++) o[j] = ((sbyte*)(p + 2))[j] * d;
            else
                for (int j = 0; j < 16; j++)
                {
                    o[j] = ((p[2 + j] & 0xF) - 8) * d;
                    o[j + 16] = ((p[2 + j] >> 4) - 8) * d;
                }
        }
    }

    /// <summary>The f16 scale that opens every block, as float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Scale(byte* block) => s_halfToSingle[Unsafe.ReadUnaligned<ushort>(block)];

    /// <summary>Every f16 bit pattern as f32 (exact: (float)Half), 256 KB: packing an 8B model at load reads ~250M block
    /// scales, and .NET's Half conversion is software (~15 ns each here).</summary>
    private static readonly float[] s_halfToSingle = BuildHalfTable();

    private static float[] BuildHalfTable()
    {
        var t = new float[65536];
        for (int h = 0; h < t.Length; h++) t[h] = (float)BitConverter.UInt16BitsToHalf((ushort)h);
        return t;
    }
}
