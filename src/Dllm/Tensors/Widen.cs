using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dllm.Tensors;

/// <summary>Conversions between stored element types and float32. bf16 → f32 is exact (a 16-bit
/// shift); f32 → bf16 rounds to nearest even, as PyTorch does; NaN stays NaN.</summary>
public static unsafe class Widen
{
    /// <summary>Widens <paramref name="dst"/>.Length contiguous elements at <paramref name="src"/> to float32
    /// (for a quantized type: whole 32-value blocks starting at <paramref name="src"/>, dequantized).</summary>
    public static void ToSingle(nint src, DType type, Span<float> dst)
    {
        switch (type)
        {
            case DType.F32:
                new ReadOnlySpan<float>((void*)src, dst.Length).CopyTo(dst);
                break;
            case DType.F16:
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((void*)src, dst.Length), dst);
                break;
            case DType.BF16:
                Bf16ToSingle(new ReadOnlySpan<ushort>((void*)src, dst.Length), dst);
                break;
            case DType.Q8_0 or DType.Q4_0 or DType.Q4_K or DType.Q6_K or DType.Q5_0 or DType.Q5_K:
                QuantBlocks.Dequantize(src, type, dst); // whole blocks only
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "unknown dtype");
        }
    }

    /// <summary>Widens bf16 bit patterns to float32 (exact).</summary>
    public static void Bf16ToSingle(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException("destination too short", nameof(dst));
        int i = 0;
        fixed (ushort* s = src)
        fixed (float* d = dst)
        {
            if (Avx2.IsSupported)
            {
                for (; i + 8 <= src.Length; i += 8)
                {
                    Vector256<int> w = Avx2.ConvertToVector256Int32(Sse2.LoadVector128(s + i));
                    Avx.Store(d + i, Avx2.ShiftLeftLogical(w, 16).AsSingle());
                }
            }
            for (; i < src.Length; i++) d[i] = Bf16ToSingle(s[i]);
        }
    }

    /// <summary>One bf16 bit pattern to float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>float32 to bf16 with round-to-nearest-even (NaN is kept a quiet NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SingleToBf16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>Narrows float32 values to bf16 bit patterns (round-to-nearest-even).</summary>
    public static void SingleToBf16(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = SingleToBf16(src[i]);
    }
}
