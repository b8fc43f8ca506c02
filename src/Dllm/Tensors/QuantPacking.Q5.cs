using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dllm.Tensors;

/// <summary>
/// Q5_0 and Q5_K codes for the vector kinds (AVX2 and AVX-VNNI): the same 32 int8 values as the scalar
/// <c>QuantBlocks.Q50Codes</c> / <c>QuantBlocks.Q5KSubBlockCodes</c> the portable kind uses (the kernel tests compare the
/// kinds bit for bit), built 32 at a time for <see cref="PackChunk"/>, which runs at load and, for a weight not packed at
/// load, once per chunk of 8 weight rows in every GEMM call.
/// </summary>
internal static unsafe partial class QuantPacking
{
    /// <summary>Sub-block <paramref name="j"/> of a Q5_K super-block: the nibbles as Q4_K's, then bit j of qh[l] as bit 4.
    /// A 16-bit shift right by j (&lt; 8) keeps each byte's own bit j at bit 0, so masking with 1 per byte is exact.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Q5KCodesAvx2(byte* sb, int j, sbyte* v)
    {
        Vector256<byte> packed = Avx.LoadVector256(sb + 48 + 32 * (j / 2)), low4 = Vector256.Create((byte)0xF), one = Vector256.Create((byte)1);
        Vector256<byte> lo = (j & 1) == 0 ? packed & low4 : Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & low4;
        Vector256<byte> hi = Avx2.ShiftRightLogical(Avx.LoadVector256(sb + 16).AsUInt16(), (byte)j).AsByte() & one;
        Avx.Store((byte*)v, lo | Avx2.ShiftLeftLogical(hi.AsUInt16(), 4).AsByte()); // hi is 0/1 per byte: no carry across bytes
    }

    /// <summary>A Q5_0 block: byte j gets qh byte j/8 (vpshufb, per 128-bit lane: the broadcast puts qh's 4 bytes in each
    /// lane), tested against bit j % 8; the nibbles as Q4_0's; minus 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Q50CodesAvx2(byte* blk, sbyte* v)
    {
        Vector128<byte> packed = Sse2.LoadVector128(blk + 6), low4 = Vector128.Create((byte)0xF);
        Vector256<byte> nib = Vector256.Create(packed & low4, Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & low4);
        Vector256<byte> qh = Vector256.Create(Unsafe.ReadUnaligned<uint>(blk + 2)).AsByte();
        Vector256<byte> spread = Avx2.Shuffle(qh, Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        Vector256<byte> bit = Vector256.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128,
            1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
        Vector256<byte> fifth = Vector256.Equals(spread & bit, bit) & Vector256.Create((byte)0x10);
        Avx.Store(v, Avx2.Subtract(nib | fifth, Vector256.Create((byte)16)).AsSByte());
    }
}
