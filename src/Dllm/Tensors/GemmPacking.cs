using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dllm.Tensors;

/// <summary>
/// Copies blocks of A and B into the contiguous float32 layouts the micro-kernel streams through.
/// <para>
/// This is where stored dtypes are widened: a bf16/f16 weight stays 2 bytes per parameter in memory
/// and becomes float32 only inside a KC×NC block that lives in cache, so the kernel itself only ever
/// sees float32. Edges are zero-padded to whole MR / NR panels, which lets the kernel always run a
/// full 6×16 tile.
/// </para>
/// <para>
/// Layouts: a packed A block of mc rows is ⌈mc/MR⌉ panels; panel q holds, for each p in [0, kc),
/// the MR values A[q·MR + r, p] (r = 0..MR-1) contiguously, so panel q starts at q·MR·kc.
/// A packed B block of nc columns is ⌈nc/NR⌉ panels; panel q holds, for each p, the NR values
/// B[p, q·NR + j] contiguously, starting at q·NR·kc.
/// </para>
/// <para>
/// Fast paths exist for the layouts that matter: A row-major or transposed float32; B row-major
/// (ColStride = 1) or a transposed row-major weight (RowStride = 1, the linear-layer case) in
/// f32/bf16/f16. Anything else (arbitrary strides, including 0 or negative) takes a generic
/// element-by-element path that is slow but correct.
/// </para>
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>Floats needed to pack an mc×kc block of A (rounded up to whole MR panels).</summary>
    public static long ASize(int mc, int kc, int MR) => (long)((mc + MR - 1) / MR) * MR * kc;

    /// <summary>Floats needed to pack a kc×nc block of B (rounded up to whole NR panels).</summary>
    public static long BSize(int kc, int nc, int NR) => (long)((nc + NR - 1) / NR) * NR * kc;

    /// <summary>Floats the A buffer needs beyond <see cref="ASize"/>: the vectorised row-major path
    /// stores whole 8-float vectors, whose lanes past MR spill up to 8 floats past a panel's end
    /// (they are overwritten by the next store, or land in this slack after the last panel).</summary>
    public const int ASlack = 8;

    /// <summary>Packs A[i0 .. i0+mc, p0 .. p0+kc) into MR-row panels at <paramref name="dst"/>
    /// (which must hold <see cref="ASize"/> + <see cref="ASlack"/> floats).</summary>
    public static void PackA(in MatrixView a, int i0, int mc, int p0, int kc, float* dst, int MR)
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int rows = Math.Min(MR, mc - ir);
            float* panel = dst + (long)ir * kc;
            if (a.DType == DType.F32 && a.ColStride == 1 && rows == MR && Avx.IsSupported && MR % 6 == 0 && MR <= 16)
                PackARowMajor((float*)a.At(i0 + ir, p0), a.RowStride, kc, panel, MR);
            else if (a.DType == DType.F32 && a.ColStride == 1)
            {
                // Row-major activations: read each row forward, write with stride MR.
                for (int r = 0; r < rows; r++)
                {
                    float* src = (float*)a.At(i0 + ir + r, p0);
                    float* d = panel + r;
                    for (int p = 0; p < kc; p++) d[p * MR] = src[p];
                }
                for (int r = rows; r < MR; r++)
                    for (int p = 0; p < kc; p++) panel[p * MR + r] = 0f;
            }
            else if (a.DType == DType.F32 && a.RowStride == 1 && rows == MR)
            {
                // Transposed A (e.g. dYᵀ in a weight gradient): the MR values of one k step are adjacent.
                float* src = (float*)a.At(i0 + ir, p0);
                long step = a.ColStride;
                if (MR == 6)
                    for (int p = 0; p < kc; p++, src += step)
                    {
                        float* d = panel + p * 6;
                        Vector128.Store(Vector128.Load(src), d);
                        *(long*)(d + 4) = *(long*)(src + 4);
                    }
                else if (MR == 12)
                    for (int p = 0; p < kc; p++, src += step)
                    {
                        float* d = panel + p * 12;
                        Vector256.Store(Vector256.Load(src), d);
                        Vector128.Store(Vector128.Load(src + 8), d + 8);
                    }
                else
                    for (int p = 0; p < kc; p++, src += step)
                        for (int r = 0; r < MR; r++) panel[p * MR + r] = src[r];
            }
            else
            {
                byte* basePtr = (byte*)a.Data;
                for (int p = 0; p < kc; p++)
                {
                    float* d = panel + p * MR;
                    for (int r = 0; r < rows; r++)
                        d[r] = Read(basePtr, a.DType, (i0 + ir + r) * a.RowStride + (p0 + p) * a.ColStride);
                    for (int r = rows; r < MR; r++) d[r] = 0f;
                }
            }
        }
    }

    /// <summary>
    /// One full MR-row panel of a row-major f32 A (MR = 6 or 12): 8 k-steps of each row are loaded,
    /// transposed in 8×8 register blocks (rows past MR are zero) and stored as whole vectors, in
    /// ascending address order so that each store's lanes past MR are overwritten by the next one
    /// (the last spills into the next panel, packed later, or into <see cref="ASlack"/>).
    /// A scalar strided scatter here cost ~15 % of a training step.
    /// </summary>
    private static void PackARowMajor(float* src, long rowStride, int kc, float* panel, int MR)
    {
        int blocks = (MR + 7) / 8; // 1 for MR = 6, 2 for MR = 12
        Vector256<float>* v = stackalloc Vector256<float>[16];
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            for (int blk = 0; blk < blocks; blk++)
            {
                Vector256<float>* t = v + blk * 8;
                for (int r = 0; r < 8; r++)
                {
                    int row = blk * 8 + r;
                    t[r] = row < MR ? Avx.LoadVector256(src + row * rowStride + p) : Vector256<float>.Zero;
                }
                Transpose8x8(ref t[0], ref t[1], ref t[2], ref t[3], ref t[4], ref t[5], ref t[6], ref t[7]);
            }
            float* d = panel + p * MR;
            for (int k = 0; k < 8; k++)
                for (int blk = 0; blk < blocks; blk++)
                    Avx.Store(d + k * MR + blk * 8, v[blk * 8 + k]);
        }
        for (; p < kc; p++)
            for (int r = 0; r < MR; r++) panel[p * MR + r] = src[r * rowStride + p];
    }

    /// <summary>Packs B[p0 .. p0+kc, j0 .. j0+nc) into NR-column panels at <paramref name="dst"/>.
    /// <paramref name="scratch"/> must hold NR·kc floats; it is used only to widen f16 columns of a transposed B.</summary>
    public static void PackB(in MatrixView b, int p0, int kc, int j0, int nc, float* dst, float* scratch, int NR)
    {
        for (int jr = 0; jr < nc; jr += NR)
        {
            int cols = Math.Min(NR, nc - jr);
            float* panel = dst + (long)jr * kc;
            int j = j0 + jr;
            if (b.ColStride == 1 && cols == NR && b.DType != DType.F16)
                PackBRowMajor(b, p0, kc, j, panel, NR);
            else if (b.RowStride == 1 && cols == NR && b.DType != DType.F16)
                PackBTransposed((byte*)b.At(p0, j), b.DType, b.ColStride, kc, panel, NR);
            else if (b.RowStride == 1 && cols == NR)
            {
                // f16 weight: widen NR columns into scratch (vectorised by TensorPrimitives), then
                // transpose that float32 copy like an f32 weight.
                for (int c = 0; c < NR; c++)
                    TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((void*)b.At(p0, j + c), kc), new Span<float>(scratch + (long)c * kc, kc));
                PackBTransposed((byte*)scratch, DType.F32, kc, kc, panel, NR);
            }
            else
            {
                byte* basePtr = (byte*)b.Data;
                for (int p = 0; p < kc; p++)
                {
                    float* d = panel + p * NR;
                    long rowOff = (p0 + p) * b.RowStride;
                    for (int c = 0; c < cols; c++) d[c] = Read(basePtr, b.DType, rowOff + (j + c) * b.ColStride);
                    for (int c = cols; c < NR; c++) d[c] = 0f;
                }
            }
        }
    }

    /// <summary>One full panel of a row-major B (f32 or bf16): each k step is NR adjacent values.</summary>
    private static void PackBRowMajor(in MatrixView b, int p0, int kc, int j, float* panel, int NR)
    {
        for (int p = 0; p < kc; p++)
        {
            byte* src = (byte*)b.At(p0 + p, j);
            float* d = panel + p * NR;
            if (b.DType == DType.F32)
                for (int v = 0; v < NR; v += 8) Vector256.Store(Vector256.Load((float*)src + v), d + v);
            else
                for (int v = 0; v < NR; v += 8) Vector256.Store(LoadBf16x8((ushort*)src + v), d + v);
        }
    }

    /// <summary>
    /// One full panel of B = Wᵀ where W is row-major: column j of B is row j of W, contiguous along k.
    /// Reads 8 k-steps of each of the NR columns, transposes NR/8 blocks of 8×8 in registers and writes
    /// 8 packed k rows, so every load and store is a full vector (this matters: for the typical
    /// m ≈ 160 a scalar scatter here costs ~10% of the whole GEMM).
    /// <paramref name="src"/> is the address of B[p0, j]; <paramref name="colStride"/> is the distance
    /// in elements between adjacent columns of B (= the row stride of W).
    /// </summary>
    private static void PackBTransposed(byte* src, DType t, long colStride, int kc, float* panel, int NR)
    {
        int size = t == DType.F32 ? 4 : 2;
        long colBytes = colStride * size;
        int p = 0;
        if (Avx.IsSupported)
        {
            for (; p + 8 <= kc; p += 8)
            {
                byte* s = src + (long)p * size;
                for (int half = 0; half < NR / 8; half++)
                {
                    byte* s0 = s + half * 8 * colBytes;
                    Vector256<float> r0 = Load8(s0, t), r1 = Load8(s0 + colBytes, t), r2 = Load8(s0 + 2 * colBytes, t), r3 = Load8(s0 + 3 * colBytes, t);
                    Vector256<float> r4 = Load8(s0 + 4 * colBytes, t), r5 = Load8(s0 + 5 * colBytes, t), r6 = Load8(s0 + 6 * colBytes, t), r7 = Load8(s0 + 7 * colBytes, t);
                    Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                    float* d = panel + p * NR + half * 8;
                    Avx.Store(d, r0); Avx.Store(d + NR, r1); Avx.Store(d + 2 * NR, r2); Avx.Store(d + 3 * NR, r3);
                    Avx.Store(d + 4 * NR, r4); Avx.Store(d + 5 * NR, r5); Avx.Store(d + 6 * NR, r6); Avx.Store(d + 7 * NR, r7);
                }
            }
        }
        for (; p < kc; p++)
        {
            float* d = panel + p * NR;
            for (int c = 0; c < NR; c++) d[c] = Read(src, t, c * colStride + p);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load8(byte* p, DType t)
        => t == DType.F32 ? Avx.LoadVector256((float*)p) : LoadBf16x8((ushort*)p);

    /// <summary>8 bf16 values → 8 floats: zero-extend to 32 bits and shift into the high half (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> LoadBf16x8(ushort* p)
    {
        if (Avx2.IsSupported)
            return Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(p), 16).AsSingle();
        var w = Vector128.Load(p);
        var (lo, hi) = Vector128.Widen(w);
        return Vector256.Create(Vector128.ShiftLeft(lo, 16).AsSingle(), Vector128.ShiftLeft(hi, 16).AsSingle());
    }

    /// <summary>In-register 8×8 transpose: on return rK holds what was column K. Shuffles only, so any 4-byte
    /// elements go through bit for bit (QuantPacking interleaves int8 codes with it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
                                     ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        r0 = Avx.Permute2x128(u0, u4, 0x20); r1 = Avx.Permute2x128(u1, u5, 0x20);
        r2 = Avx.Permute2x128(u2, u6, 0x20); r3 = Avx.Permute2x128(u3, u7, 0x20);
        r4 = Avx.Permute2x128(u0, u4, 0x31); r5 = Avx.Permute2x128(u1, u5, 0x31);
        r6 = Avx.Permute2x128(u2, u6, 0x31); r7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>Element <paramref name="index"/> (in elements, may be negative) of a typed array, widened.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Read(byte* basePtr, DType t, long index) => t switch
    {
        DType.F32 => ((float*)basePtr)[index],
        DType.F16 => (float)((Half*)basePtr)[index],
        _ => Widen.Bf16ToSingle(((ushort*)basePtr)[index]),
    };
}
