using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dllm.Tensors;

/// <summary>
/// The inner loops of <see cref="QuantGemm"/>: a chunk of <see cref="NW"/> = 8 weight rows is unpacked once into an
/// interleaved int8 layout, then each tile of <see cref="MR"/> = 4 activation rows × 8 weight rows is computed with
/// one int32 lane per weight row.
/// <para>
/// Interleaved layout (as llama.cpp's repacked "q8_0 8x4" CPU kernels): for block b and 4-byte group t (t = 0..7),
/// 32 bytes hold w[j, 32b + 4t .. 32b + 4t + 3] for the 8 rows j in order. One int8 dot instruction against the
/// activation's bytes 4t..4t+3 broadcast to every lane then advances all 8 rows' block dots at once, and after the
/// 8 groups the int32 lanes hold the exact block dots of the 8 rows: one int→float conversion, one multiply and one
/// FMA finish 8 outputs' block (instead of per output). Per block and output: C[r, j] = fma(float(dot), dx[r,b]·dw[j,b], C[r, j]),
/// blocks in order; the portable path performs exactly these float operations, so all kinds agree bit for bit.
/// </para>
/// <para>
/// AVX-VNNI: vpdpbusd multiplies unsigned by signed bytes, so the activations are stored as x + 128 (x xor 0x80)
/// and each row's accumulator starts at −128·Σw over the block (precomputed at unpack): Σ(x + 128)·w − 128·Σw = Σx·w.
/// AVX2 has no 4-byte dot: there the chunk is unpacked row by row (8 rows × 32 bytes per block, and |w| likewise) for
/// vpmaddubsw(|w|, x·sign(w)) then vpmaddwd against ones (llama.cpp's trick; |w| ≤ 128 and |x| ≤ 127, so no 16-bit
/// pair saturates), and a horizontal-add tree gathers the 8 rows' block dots into one vector (<see cref="TileAvx2"/>).
/// </para>
/// <para>Q6_K's blocks of 32 carry two int8 scales (one per 16 values): see <c>QuantGemmKernel.Halves.cs</c>.</para>
/// </summary>
internal static unsafe partial class QuantGemmKernel
{
    /// <summary>Weight rows per chunk (int32 lanes of a 256-bit vector) and activation rows per tile.</summary>
    public const int NW = 8, MR = 4;

    /// <summary>Bytes of the unpacked chunk per block: 8 groups × 8 rows × 4 bytes.</summary>
    public const int ChunkBlockBytes = 256;

    /// <summary>
    /// Unpacks rows [j0, j0 + rows) of <paramref name="w"/> (rows past <paramref name="rows"/> are zero) into
    /// qw [nb × 256] (AVX-VNNI and portable: interleaved; AVX2: row layout), aux [nb × 256] (AVX-VNNI: 8 int32 −128·Σw
    /// per block at aux + 256b; AVX2: |w| in the row layout; portable: unused) and dw [nb × 8] scales, per block of 32.
    /// Q4_K: block b is sub-block b % 8 of super-block b / 8; its codes q (0..15) are the int8 values, dw = d·sc, and
    /// mw [nb × 8] gets the offset −dmin·m (value = dw·q + mw); for the other types <paramref name="mw"/> is not written.
    /// Q5_K likewise, with codes 0..31. Q5_0: codes q − 16 (−16..15), dw = d.
    /// Q6_K: block b is 32-value block b % 8 of super-block b / 8, its codes q − 32 the int8 values, dw = d, and its two
    /// int8 scales go to hs [nb × <see cref="HalfScaleInts"/>] (<see cref="SetHalfScales"/>); AVX-VNNI's aux then holds
    /// −128·Σw of each half (at aux + 256b and aux + 256b + 32).
    /// </summary>
    [SkipLocalsInit]
    public static void Unpack(in MatrixView w, int j0, int rows, int nb, byte* qw, byte* aux, float* dw, float* mw, int* hs, QuantKernelKind kind)
    {
        int bb = w.DType.BlockBytes();
        bool k4 = w.DType == DType.Q4_K, k5 = w.DType == DType.Q5_K, k6 = w.DType == DType.Q6_K;
        sbyte* v = stackalloc sbyte[32];
        for (int r = 0; r < NW; r++)
        {
            byte* p = r < rows ? (byte*)w.At(j0 + r, 0) : null;
            for (int b = 0; b < nb; b++)
            {
                if (p == null)
                {
                    new Span<sbyte>(v, 32).Clear();
                    if (k4 || k5) mw[b * NW + r] = 0;
                    if (k6) SetHalfScales(hs, b, r, 0, 0);
                }
                else if (k6)
                {
                    byte* sb = p + (long)(b / 8) * bb;
                    var (lo, hi) = QuantBlocks.Q6KBlockCodes(sb, b % 8, v);
                    dw[b * NW + r] = QuantBlocks.Scale(sb + 208);
                    SetHalfScales(hs, b, r, lo, hi);
                }
                else if (k5)
                {
                    // Codes 0..31 fit int8 as they are; the min term goes through mw as for Q4_K.
                    byte* sb = p + (long)(b / 8) * bb;
                    // The vector kinds build the same codes as the scalar reading, 32 at a time (QuantGemmKernel.Q5.cs).
                    if (kind != QuantKernelKind.Portable) Q5KCodesAvx2(sb, b % 8, v);
                    else QuantBlocks.Q5KSubBlockCodes(sb, b % 8, v);
                    (dw[b * NW + r], mw[b * NW + r]) = QuantBlocks.KSubBlockScale(sb, b % 8);
                }
                else if (k4)
                {
                    // ggml dequantize_row_q4_K: sub-block j of a super-block reads nibble half (j & 1) of qs[32·(j/2) ..].
                    byte* sb = p + (long)(b / 8) * bb;
                    int j = b % 8;
                    (dw[b * NW + r], mw[b * NW + r]) = QuantBlocks.KSubBlockScale(sb, j);
                    byte* nib = sb + 16 + 32 * (j / 2);
                    if (kind != QuantKernelKind.Portable)
                    {
                        Vector256<byte> packed = Avx.LoadVector256(nib);
                        Avx.Store((byte*)v, (j & 1) == 0 ? packed & Vector256.Create((byte)0xF) : Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & Vector256.Create((byte)0xF));
                    }
                    else
                        for (int i = 0; i < 32; i++) v[i] = (sbyte)((nib[i] >> (4 * (j & 1))) & 0xF);
                }
                else
                {
                    byte* blk = p + (long)b * bb;
                    dw[b * NW + r] = QuantBlocks.Scale(blk);
                    if (w.DType == DType.Q8_0) Unsafe.CopyBlockUnaligned(v, blk + 2, 32);
                    else if (w.DType == DType.Q5_0 && kind != QuantKernelKind.Portable) Q50CodesAvx2(blk, v);
                    else if (w.DType == DType.Q5_0) QuantBlocks.Q50Codes(blk, v);
                    else if (kind != QuantKernelKind.Portable)
                    {
                        Vector128<byte> packed = Sse2.LoadVector128(blk + 2), low = Vector128.Create((byte)0xF);
                        Vector128<byte> lo = packed & low, hi = Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & low;
                        Avx.Store(v, Avx2.Subtract(Vector256.Create(lo, hi), Vector256.Create((byte)8)).AsSByte());
                    }
                    else
                        for (int j = 0; j < 16; j++)
                        {
                            v[j] = (sbyte)((blk[2 + j] & 0xF) - 8);
                            v[j + 16] = (sbyte)((blk[2 + j] >> 4) - 8);
                        }
                }
                if (p == null) dw[b * NW + r] = 0;
                if (kind == QuantKernelKind.Avx2)
                {
                    // Row layout: 8 rows × 32 bytes per block, |w| likewise.
                    Vector256<sbyte> vv = Avx.LoadVector256(v);
                    Avx.Store((sbyte*)qw + (long)b * ChunkBlockBytes + r * 32, vv);
                    Avx.Store(aux + (long)b * ChunkBlockBytes + r * 32, Avx2.Abs(vv));
                    continue;
                }
                byte* q = qw + (long)b * ChunkBlockBytes + r * 4;
                for (int t = 0; t < 8; t++) *(int*)(q + t * 32) = *(int*)(v + 4 * t);
                if (kind == QuantKernelKind.AvxVnni && k6)
                {
                    int lo = 0, hi = 0;
                    for (int e = 0; e < 16; e++) { lo += v[e]; hi += v[e + 16]; }
                    ((int*)(aux + (long)b * ChunkBlockBytes))[r] = -128 * lo;
                    ((int*)(aux + (long)b * ChunkBlockBytes + 32))[r] = -128 * hi;
                }
                else if (kind == QuantKernelKind.AvxVnni)
                {
                    // Σw of the block by vpdpbusd against 1s, then the 8 lanes added.
                    Vector256<int> l = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, Vector256.Create((byte)1), Avx.LoadVector256(v));
                    ((int*)(aux + (long)b * ChunkBlockBytes))[r] = -128 * Vector256.Sum(l);
                }
                else
                {
                    byte* a = aux + (long)b * ChunkBlockBytes + r * 4;
                    for (int t = 0; t < 8; t++)
                        for (int e = 0; e < 4; e++) a[t * 32 + e] = (byte)Math.Abs((int)v[4 * t + e]);
                }
            }
        }
    }

    /// <summary>The MR × NW tile: <paramref name="tile"/>[r·NW + j] = Σ_b float(dot_b(r, j))·(dx[r,b]·dw[j,b]), fused per block,
    /// and with an offset (<paramref name="mw"/> non-null, Q4_K and Q5_K) then per block + mw[j,b]·sx[r,b], fused, where sx[r,b] =
    /// dx[r,b]·Σ_t qx[r,b,t] (the activation block's sum: Σ_t x_t·(dw·q_t + mw) = dx·dw·Σ qx·q + mw·dx·Σ qx).
    /// qx: MR activation rows of k bytes (stored x + 128 for AVX-VNNI), dx and sx: their MR × nb scales and sums.</summary>
    public static void Tile(QuantKernelKind kind, byte* qx, float* dx, int nb, int k, byte* qw, byte* aux, float* dw, float* mw, float* sx, int* hs, float* tile)
    {
        if (kind == QuantKernelKind.AvxVnni && hs != null) TileHalvesVnni(qx, dx, nb, k, qw, aux, dw, hs, tile);
        else if (kind == QuantKernelKind.AvxVnni) TileVnni(qx, dx, nb, k, qw, aux, dw, mw, sx, tile);
        else if (kind == QuantKernelKind.Avx2) TileAvx2(qx, dx, nb, k, qw, aux, dw, mw, sx, hs, tile);
        else TilePortable(qx, dx, nb, k, qw, dw, mw, sx, hs, tile);
    }

    /// <summary>
    /// AVX2 on the row layout: per activation row and block, vpmaddubsw(|w_j|, x·sign(w_j)) then vpmaddwd against ones
    /// gives 8 partial int32 sums for each of the 8 weight rows; a horizontal-add tree turns the 8 vectors into one
    /// whose lane j is row j's exact block dot (without AVX-VNNI the broadcast scheme would cost 4 instructions
    /// per 4 bytes; this costs 3 per 32 bytes plus 9 per 8 rows). With half scales (<paramref name="hs"/>, Q6_K) each row's
    /// 8 partial sums are first multiplied by [sc_lo ×4, sc_hi ×4] (<c>QuantGemmKernel.Halves.cs</c>).
    /// </summary>
    private static void TileAvx2(byte* qx, float* dx, int nb, int k, byte* qw, byte* aux, float* dw, float* mw, float* sx, int* hs, float* tile)
    {
        Vector256<short> ones = Vector256.Create((short)1);
        for (int r = 0; r < MR; r++)
        {
            Vector256<float> f = default;
            sbyte* xr = (sbyte*)qx + (long)r * k;
            for (int b = 0; b < nb; b++)
            {
                Vector256<sbyte> x = Avx.LoadVector256(xr + b * 32);
                sbyte* wb = (sbyte*)qw + (long)b * ChunkBlockBytes;
                byte* ab = aux + (long)b * ChunkBlockBytes;
                int* h = hs == null ? null : hs + (long)b * HalfScaleInts;
                Vector256<int> v0 = Dot(x, wb, ab, ones, h, 0), v1 = Dot(x, wb, ab, ones, h, 1), v2 = Dot(x, wb, ab, ones, h, 2), v3 = Dot(x, wb, ab, ones, h, 3);
                Vector256<int> v4 = Dot(x, wb, ab, ones, h, 4), v5 = Dot(x, wb, ab, ones, h, 5), v6 = Dot(x, wb, ab, ones, h, 6), v7 = Dot(x, wb, ab, ones, h, 7);
                Vector256<int> s0 = Avx2.HorizontalAdd(Avx2.HorizontalAdd(v0, v1), Avx2.HorizontalAdd(v2, v3));
                Vector256<int> s1 = Avx2.HorizontalAdd(Avx2.HorizontalAdd(v4, v5), Avx2.HorizontalAdd(v6, v7));
                // s0's low 128 bits hold rows 0..3's sums over bytes 0..15, its high 128 bits over bytes 16..31; s1 rows 4..7.
                Vector256<int> dot = Avx2.Add(Avx2.Permute2x128(s0, s1, 0x20), Avx2.Permute2x128(s0, s1, 0x31));
                f = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Avx.Multiply(Avx.LoadVector256(dw + b * NW), Vector256.Create(dx[r * nb + b])), f);
                if (mw != null) f = Fma.MultiplyAdd(Avx.LoadVector256(mw + b * NW), Vector256.Create(sx[r * nb + b]), f);
            }
            Avx.Store(tile + r * NW, f);
        }
    }

    /// <summary>Weight row <paramref name="j"/>'s 8 partial block sums (lane i: bytes 4i..4i+3), times its half scales when
    /// <paramref name="hs"/> is not null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot(Vector256<sbyte> x, sbyte* w, byte* a, Vector256<short> ones, int* hs, int j)
    {
        Vector256<int> d = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx.LoadVector256(a + 32 * j), Avx2.Sign(x, Avx.LoadVector256(w + 32 * j))), ones);
        return hs == null ? d : Avx2.MultiplyLow(d, Avx.LoadVector256(hs + 8 * j));
    }

    /// <summary>AVX-VNNI on the interleaved layout: one vpdpbusd per 4 activation bytes advances 8 rows' block dots.</summary>
    private static void TileVnni(byte* qx, float* dx, int nb, int k, byte* qw, byte* aux, float* dw, float* mw, float* sx, float* tile)
    {
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        for (int b = 0; b < nb; b++)
        {
            byte* wb = qw + (long)b * ChunkBlockBytes, ab = aux + (long)b * ChunkBlockBytes;
            Vector256<int> start = Avx.LoadVector256((int*)ab); // −128·Σw per row
            Vector256<int> i0 = start, i1 = start, i2 = start, i3 = start;
            byte* x = qx + b * 32;
            for (int t = 0; t < 8; t++)
            {
                Vector256<sbyte> w = Avx.LoadVector256((sbyte*)wb + t * 32);
                int o = t * 4;
                i0 = AvxVnni.MultiplyWideningAndAdd(i0, Vector256.Create(*(int*)(x + o)).AsByte(), w);
                i1 = AvxVnni.MultiplyWideningAndAdd(i1, Vector256.Create(*(int*)(x + k + o)).AsByte(), w);
                i2 = AvxVnni.MultiplyWideningAndAdd(i2, Vector256.Create(*(int*)(x + 2 * k + o)).AsByte(), w);
                i3 = AvxVnni.MultiplyWideningAndAdd(i3, Vector256.Create(*(int*)(x + 3 * k + o)).AsByte(), w);
            }
            Vector256<float> sw = Avx.LoadVector256(dw + b * NW);
            f0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0), Avx.Multiply(sw, Vector256.Create(dx[b])), f0);
            f1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i1), Avx.Multiply(sw, Vector256.Create(dx[nb + b])), f1);
            f2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i2), Avx.Multiply(sw, Vector256.Create(dx[2 * nb + b])), f2);
            f3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i3), Avx.Multiply(sw, Vector256.Create(dx[3 * nb + b])), f3);
            if (mw != null)
            {
                Vector256<float> mv = Avx.LoadVector256(mw + b * NW);
                f0 = Fma.MultiplyAdd(mv, Vector256.Create(sx[b]), f0);
                f1 = Fma.MultiplyAdd(mv, Vector256.Create(sx[nb + b]), f1);
                f2 = Fma.MultiplyAdd(mv, Vector256.Create(sx[2 * nb + b]), f2);
                f3 = Fma.MultiplyAdd(mv, Vector256.Create(sx[3 * nb + b]), f3);
            }
        }
        Avx.Store(tile, f0); Avx.Store(tile + NW, f1); Avx.Store(tile + 2 * NW, f2); Avx.Store(tile + 3 * NW, f3);
    }

    /// <summary>Scalar; with half scales (<paramref name="hs"/>, Q6_K) the block dot is sc_lo·(values 0..15) + sc_hi·(16..31).</summary>
    private static void TilePortable(byte* qx, float* dx, int nb, int k, byte* qw, float* dw, float* mw, float* sx, int* hs, float* tile)
    {
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NW; j++)
            {
                float acc = 0;
                sbyte* x = (sbyte*)qx + (long)r * k;
                for (int b = 0; b < nb; b++)
                {
                    sbyte* wb = (sbyte*)qw + (long)b * ChunkBlockBytes + j * 4;
                    int lo = 0, hi = 0; // values 0..15 (groups 0..3) and 16..31
                    for (int t = 0; t < 8; t++)
                        for (int e = 0; e < 4; e++)
                        {
                            int p = x[b * 32 + 4 * t + e] * wb[t * 32 + e];
                            if (t < 4) lo += p; else hi += p;
                        }
                    int dot = hs == null ? lo + hi : hs[b * HalfScaleInts + 64 + j] * lo + hs[b * HalfScaleInts + 72 + j] * hi;
                    acc = MathF.FusedMultiplyAdd(dot, dw[b * NW + j] * dx[r * nb + b], acc);
                    if (mw != null) acc = MathF.FusedMultiplyAdd(mw[b * NW + j], sx[r * nb + b], acc);
                }
                tile[r * NW + j] = acc;
            }
    }
}
