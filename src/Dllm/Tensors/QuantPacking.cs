using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dllm.Tensors;

/// <summary>
/// The layout the int8 kernels (<see cref="QuantGemmKernel"/>) read a quantized weight in: chunks of
/// <see cref="QuantGemmKernel.NW"/> = 8 rows, each chunk one contiguous record of <see cref="ChunkBytes"/>. A weight is
/// packed once at load (<see cref="PackedWeight"/>) or, when it was not, one chunk at a time on every call; both give the
/// same bytes, so the same results bit for bit.
/// <para>
/// Codes: each value's code is stored <b>unsigned</b>, u = q + o with the format's offset o (<see cref="CodeOffset"/>:
/// Q8_0 128, Q4_0 8, Q5_0 16, Q6_K 32, Q4_K and Q5_K 0, whose codes are already 0..15 / 0..31), so the weight is
/// vpdpbusd's unsigned operand and the activation its signed one, and Σ x·q = Σ x·u − o·Σ x: the correction depends
/// on the activation block alone and is computed once per activation row, not per weight. Per 32-value block b and
/// 4-byte group t (values 4t .. 4t + 3), 32 bytes hold the 8 rows' 4 codes in row order (llama.cpp's repacked "8x4"
/// interleave), so one 4-byte activation broadcast advances 8 rows' dots. Q4_0 and Q4_K keep 4 bits a code: group t's
/// codes are the low nibbles and group t + 4's the high nibbles of the same 32 bytes (128 bytes a block, as stored);
/// the other formats take a byte a code (256 bytes a block: Q5_0, Q5_K and Q6_K grow, Q8_0 does not).
/// </para>
/// <para>
/// Scales, after the nb blocks of codes (f32 as the formats define them, so the kernels' float operations are those
/// of the blocks' own definitions): Q8_0, Q4_0, Q5_0: <c>float dw[nb][8]</c> (d of each row's block). Q4_K, Q5_K:
/// <c>float d[nb/8][8], float negDmin[nb/8][8]</c> per super-block, then <c>byte sc[nb][8], byte m[nb][8]</c> per block:
/// the kernel forms dw = d·sc and mw = (−dmin)·m, which equal ggml's d·sc and −(dmin·m) exactly. Q6_K: <c>float d[nb/8][8]</c>,
/// then <c>sbyte scLow[nb][8], sbyte scHigh[nb][8]</c> (the scales of values 0..15 and 16..31). Rows past the
/// weight's end (a last partial chunk) have zero codes and zero scales.
/// </para>
/// </summary>
internal static unsafe partial class QuantPacking
{
    private const int NW = QuantGemmKernel.NW;

    /// <summary>o in u = q + o (see the type's docs).</summary>
    public static int CodeOffset(DType t) => t switch
    {
        DType.Q8_0 => 128,
        DType.Q4_0 => 8,
        DType.Q5_0 => 16,
        DType.Q6_K => 32,
        _ => 0,
    };

    /// <summary>Whether codes are 4 bits (two per byte) in the packed layout.</summary>
    public static bool Nibbles(DType t) => t is DType.Q4_0 or DType.Q4_K;

    /// <summary>Bytes of one block's codes for the 8 rows: 128 (4-bit) or 256.</summary>
    public static int CodeBytes(DType t) => Nibbles(t) ? 128 : 256;

    /// <summary>Bytes of one packed chunk of 8 rows × <paramref name="nb"/> blocks of 32, rounded up to 64.</summary>
    public static long ChunkBytes(DType t, int nb)
    {
        long codes = (long)nb * CodeBytes(t), supers = nb / 8;
        long scales = t switch
        {
            DType.Q4_K or DType.Q5_K => supers * 2 * NW * 4 + (long)nb * 2 * NW,
            DType.Q6_K => supers * NW * 4 + (long)nb * 2 * NW,
            _ => (long)nb * NW * 4,
        };
        return (codes + scales + 63) / 64 * 64;
    }

    /// <summary>Offset of the scales in a chunk.</summary>
    public static long ScaleOffset(DType t, int nb) => (long)nb * CodeBytes(t);

    /// <summary>
    /// Packs rows [j0, j0 + rows) of <paramref name="w"/> (rows ≤ 8; the chunk's other rows are zero) into one chunk at
    /// <paramref name="dst"/> (<see cref="ChunkBytes"/> bytes). <paramref name="vector"/>: use the AVX2 readers of the
    /// 5-bit formats (the same codes as the scalar ones). <paramref name="sourceRow"/>: row j is read from W's row
    /// sourceRow(j) (default: j).
    /// </summary>
    [SkipLocalsInit]
    public static void PackChunk(in MatrixView w, int j0, int rows, int nb, byte* dst, bool vector, Func<int, int>? sourceRow = null)
    {
        DType t = w.DType;
        int bb = t.BlockBytes(), o = CodeOffset(t), cb = CodeBytes(t);
        bool nibbles = Nibbles(t);
        byte* scales = dst + ScaleOffset(t, nb);
        if (rows < NW) new Span<byte>(dst, (int)ChunkBytes(t, nb)).Clear(); // a full chunk writes every byte it reads
        sbyte* v = stackalloc sbyte[32];
        byte* staged = stackalloc byte[NW * 32]; // one block's codes of the 8 rows, row by row, before the interleave
        byte** src = stackalloc byte*[NW];
        Vector256<byte> offset = Vector256.Create((byte)o);
        for (int r = 0; r < NW; r++) src[r] = r < rows ? (byte*)w.At(sourceRow?.Invoke(j0 + r) ?? j0 + r, 0) : null;
        for (int b = 0; b < nb; b++)
        {
            for (int r = 0; r < NW; r++)
            {
                byte* p = src[r];
                if (p == null) { Vector256<byte>.Zero.Store(staged + r * 32); continue; }
                byte* sb = p + (long)(b / 8) * bb; // a K-quant's super-block
                int j = b % 8;
                switch (t)
                {
                    case DType.Q8_0:
                    {
                        byte* blk = p + (long)b * bb;
                        ((float*)scales)[b * NW + r] = QuantBlocks.Scale(blk);
                        Unsafe.CopyBlockUnaligned(v, blk + 2, 32);
                        break;
                    }
                    case DType.Q4_0:
                    {
                        byte* blk = p + (long)b * bb;
                        ((float*)scales)[b * NW + r] = QuantBlocks.Scale(blk);
                        if (vector)
                        {
                            Vector128<byte> packed = Sse2.LoadVector128(blk + 2), low = Vector128.Create((byte)0xF);
                            Vector128<byte> lo = packed & low, hi = Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & low;
                            Avx.Store(v, Avx2.Subtract(Vector256.Create(lo, hi), Vector256.Create((byte)8)).AsSByte());
                        }
                        else
                            for (int i = 0; i < 16; i++) { v[i] = (sbyte)((blk[2 + i] & 0xF) - 8); v[i + 16] = (sbyte)((blk[2 + i] >> 4) - 8); }
                        break;
                    }
                    case DType.Q5_0:
                    {
                        byte* blk = p + (long)b * bb;
                        ((float*)scales)[b * NW + r] = QuantBlocks.Scale(blk);
                        if (vector) Q50CodesAvx2(blk, v); else QuantBlocks.Q50Codes(blk, v);
                        break;
                    }
                    case DType.Q4_K:
                    {
                        // ggml dequantize_row_q4_K: sub-block j of a super-block reads nibble half (j & 1) of qs[32·(j/2) ..].
                        byte* nib = sb + 16 + 32 * (j / 2);
                        if (vector)
                        {
                            Vector256<byte> packed = Avx.LoadVector256(nib), low = Vector256.Create((byte)0xF);
                            Avx.Store((byte*)v, (j & 1) == 0 ? packed & low : Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & low);
                        }
                        else
                            for (int i = 0; i < 32; i++) v[i] = (sbyte)((nib[i] >> (4 * (j & 1))) & 0xF);
                        KScales(sb, b, r, nb, scales);
                        break;
                    }
                    case DType.Q5_K:
                        if (vector) Q5KCodesAvx2(sb, j, v); else QuantBlocks.Q5KSubBlockCodes(sb, j, v);
                        KScales(sb, b, r, nb, scales);
                        break;
                    case DType.Q6_K:
                    {
                        var (lo, hi) = QuantBlocks.Q6KBlockCodes(sb, j, v);
                        if (j == 0) ((float*)scales)[b / 8 * NW + r] = QuantBlocks.Scale(sb + 208);
                        sbyte* s = (sbyte*)(scales + nb / 8 * NW * 4);
                        s[b * NW + r] = (sbyte)lo;
                        s[(long)nb * NW + b * NW + r] = (sbyte)hi;
                        break;
                    }
                    default: throw new NotSupportedException($"no int8 packing for {t}");
                }
                // The codes as unsigned bytes (wrapping add: q + o is in 0..255).
                Vector256<byte> codes = Vector256.Load((byte*)v) + offset;
                if (nibbles) // code i ≤ 15 and code i + 16 ≤ 15: their byte is lo | hi << 4 (16 bytes; the rest unused)
                    codes = Vector256.Create(codes.GetLower() | (codes.GetUpper().AsUInt16() << 4).AsByte(), Vector128<byte>.Zero);
                codes.Store(staged + r * 32);
            }
            // Interleave: group g's slot takes 4 bytes of each row, rows in order (an 8 × 8 transpose of 4-byte words).
            byte* q = dst + (long)b * cb;
            int groups = nibbles ? 4 : 8;
            if (vector)
            {
                Vector256<float> r0 = Avx.LoadVector256((float*)staged), r1 = Avx.LoadVector256((float*)(staged + 32));
                Vector256<float> r2 = Avx.LoadVector256((float*)(staged + 64)), r3 = Avx.LoadVector256((float*)(staged + 96));
                Vector256<float> r4 = Avx.LoadVector256((float*)(staged + 128)), r5 = Avx.LoadVector256((float*)(staged + 160));
                Vector256<float> r6 = Avx.LoadVector256((float*)(staged + 192)), r7 = Avx.LoadVector256((float*)(staged + 224));
                GemmPacking.Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7); // moves bits only
                Avx.Store((float*)q, r0); Avx.Store((float*)(q + 32), r1); Avx.Store((float*)(q + 64), r2); Avx.Store((float*)(q + 96), r3);
                if (!nibbles) { Avx.Store((float*)(q + 128), r4); Avx.Store((float*)(q + 160), r5); Avx.Store((float*)(q + 192), r6); Avx.Store((float*)(q + 224), r7); }
            }
            else
                for (int g = 0; g < groups; g++)
                    for (int r = 0; r < NW; r++) *(uint*)(q + g * 32 + r * 4) = *(uint*)(staged + r * 32 + g * 4);
        }
    }

    /// <summary>A Q4_K/Q5_K sub-block's scale and min (6-bit integers) and, at its super-block's first, d and −dmin.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void KScales(byte* sb, int b, int r, int nb, byte* scales)
    {
        int j = b % 8;
        if (j == 0)
        {
            ((float*)scales)[b / 8 * NW + r] = QuantBlocks.Scale(sb);
            ((float*)scales)[(nb / 8 + b / 8) * NW + r] = -QuantBlocks.Scale(sb + 2);
        }
        var (s, m) = QuantBlocks.ScaleMinK4(j, sb + 4);
        byte* bytes = scales + (long)nb / 8 * 2 * NW * 4;
        bytes[b * NW + r] = (byte)s;
        bytes[(long)nb * NW + b * NW + r] = (byte)m;
    }
}
