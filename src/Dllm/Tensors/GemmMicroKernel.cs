using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dllm.Tensors;

/// <summary>
/// The innermost GEMM loop: one MR×NR tile of C updated from a packed A panel (kc groups of MR
/// floats, see <see cref="GemmPacking.PackA"/>) and a packed B panel (kc groups of NR floats, see
/// <see cref="GemmPacking.PackB"/>). Three kernels: AVX-512 12×32, AVX2/FMA 6×16 (the Zen 3 path),
/// and a portable 6×16 one for CPUs without FMA.
/// <para>
/// Why 6×16: AVX2 has 16 ymm registers. 6 rows × 2 vectors of 8 columns = 12 accumulators,
/// plus 2 registers for the B row and 1 for the broadcast A element = 15, so nothing spills,
/// and each k step issues 12 FMAs for 2 loads + 6 broadcasts, which keeps both FMA pipes of
/// a Zen core busy. With AVX-512 there are 32 zmm registers: 12 rows × 2 vectors of 16 = 24
/// accumulators + 2 for B + 1 broadcast, i.e. twice the work per instruction at the same shape logic.
/// </para>
/// <para>
/// Edge tiles (fewer than MR rows or NR columns left) are computed by the same full-size kernel
/// into a stack tile and only the valid part is written to C; this is correct because the packed
/// panels are zero-padded, and it keeps a single hot loop.
/// </para>
/// </summary>
internal static unsafe class GemmMicroKernel
{
    /// <summary>Largest tile any kernel uses (the AVX-512 one), for scratch sizing.</summary>
    public const int MaxMR = 12, MaxNR = 32;

    /// <summary>The best kernel this CPU supports.</summary>
    public static readonly GemmKernelKind Best =
        Avx512F.IsSupported ? GemmKernelKind.Avx512 : Fma.IsSupported ? GemmKernelKind.Avx2 : GemmKernelKind.Portable;

    private static GemmKernelKind _kind = Best;

    /// <summary>The kernel Gemm uses; tests lower it to cover the other paths on a bigger CPU.</summary>
    /// <exception cref="ArgumentException">The CPU cannot run the requested kernel.</exception>
    public static GemmKernelKind Kind
    {
        get => _kind;
        set
        {
            if (value == GemmKernelKind.Avx512 && !Avx512F.IsSupported || value == GemmKernelKind.Avx2 && !Fma.IsSupported)
                throw new ArgumentException($"this CPU cannot run the {value} kernel", nameof(value));
            _kind = value;
        }
    }

    /// <summary>Tile shape (rows MR × columns NR of C) of a kernel; the packing uses the same panel sizes.</summary>
    public static (int MR, int NR) Shape(GemmKernelKind kind) => kind == GemmKernelKind.Avx512 ? (12, 32) : (6, 16);

    /// <summary>
    /// C[0..mr, 0..nr) (+)= Apanel · Bpanel over kc steps, for the tile shape of <paramref name="kind"/>.
    /// When <paramref name="accumulate"/> is false the tile is overwritten. mr ≤ MR and nr ≤ NR;
    /// kc may be 0 (then the tile is zeroed or left as is).
    /// </summary>
    [SkipLocalsInit] // the stack tile is fully written before it is read; zeroing it cost ~10 % of a training step
    public static void Tile(GemmKernelKind kind, int kc, float* pa, float* pb, float* c, long ldc, int mr, int nr, bool accumulate)
    {
        var (MR, NR) = Shape(kind);
        if (mr == MR && nr == NR)
        {
            Full(kind, kc, pa, pb, c, ldc, accumulate);
            return;
        }
        // Partial tile: compute the full tile into scratch, then copy the valid corner.
        float* tmp = stackalloc float[MaxMR * MaxNR];
        Full(kind, kc, pa, pb, tmp, NR, false);
        for (int i = 0; i < mr; i++)
        {
            float* src = tmp + i * NR;
            float* dst = c + i * ldc;
            if (accumulate) for (int j = 0; j < nr; j++) dst[j] += src[j];
            else for (int j = 0; j < nr; j++) dst[j] = src[j];
        }
    }

    private static void Full(GemmKernelKind kind, int kc, float* pa, float* pb, float* c, long ldc, bool accumulate)
    {
        switch (kind)
        {
            case GemmKernelKind.Avx512: Kernel12x32Avx512(kc, pa, pb, c, ldc, accumulate); break;
            case GemmKernelKind.Avx2: Kernel6x16Fma(kc, pa, pb, c, ldc, accumulate); break;
            default: KernelPortable(kc, pa, pb, c, ldc, 6, 16, accumulate); break;
        }
    }

    /// <summary>AVX2/FMA 6×16 kernel. k is unrolled by 4 so the loop overhead is amortised over 48 FMAs.
    /// The body is written out by hand (no helper/local function) so that the 12 accumulators are plain
    /// locals the JIT enregisters; a capturing local function would put them in a stack struct.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16Fma(int kc, float* pa, float* pb, float* c, long ldc, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector256<float> b0, b1, a;
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            // Prefetch the B panel a few steps ahead; A is small and hot in L1.
            Sse.Prefetch0(pb + 16 * 8);
            b0 = Avx.LoadVector256(pb + 0); b1 = Avx.LoadVector256(pb + 8);
            a = Vector256.Create(pa[0]); c00 = Fma.MultiplyAdd(a, b0, c00); c01 = Fma.MultiplyAdd(a, b1, c01);
            a = Vector256.Create(pa[1]); c10 = Fma.MultiplyAdd(a, b0, c10); c11 = Fma.MultiplyAdd(a, b1, c11);
            a = Vector256.Create(pa[2]); c20 = Fma.MultiplyAdd(a, b0, c20); c21 = Fma.MultiplyAdd(a, b1, c21);
            a = Vector256.Create(pa[3]); c30 = Fma.MultiplyAdd(a, b0, c30); c31 = Fma.MultiplyAdd(a, b1, c31);
            a = Vector256.Create(pa[4]); c40 = Fma.MultiplyAdd(a, b0, c40); c41 = Fma.MultiplyAdd(a, b1, c41);
            a = Vector256.Create(pa[5]); c50 = Fma.MultiplyAdd(a, b0, c50); c51 = Fma.MultiplyAdd(a, b1, c51);
            b0 = Avx.LoadVector256(pb + 16); b1 = Avx.LoadVector256(pb + 24);
            a = Vector256.Create(pa[6]); c00 = Fma.MultiplyAdd(a, b0, c00); c01 = Fma.MultiplyAdd(a, b1, c01);
            a = Vector256.Create(pa[7]); c10 = Fma.MultiplyAdd(a, b0, c10); c11 = Fma.MultiplyAdd(a, b1, c11);
            a = Vector256.Create(pa[8]); c20 = Fma.MultiplyAdd(a, b0, c20); c21 = Fma.MultiplyAdd(a, b1, c21);
            a = Vector256.Create(pa[9]); c30 = Fma.MultiplyAdd(a, b0, c30); c31 = Fma.MultiplyAdd(a, b1, c31);
            a = Vector256.Create(pa[10]); c40 = Fma.MultiplyAdd(a, b0, c40); c41 = Fma.MultiplyAdd(a, b1, c41);
            a = Vector256.Create(pa[11]); c50 = Fma.MultiplyAdd(a, b0, c50); c51 = Fma.MultiplyAdd(a, b1, c51);
            b0 = Avx.LoadVector256(pb + 32); b1 = Avx.LoadVector256(pb + 40);
            a = Vector256.Create(pa[12]); c00 = Fma.MultiplyAdd(a, b0, c00); c01 = Fma.MultiplyAdd(a, b1, c01);
            a = Vector256.Create(pa[13]); c10 = Fma.MultiplyAdd(a, b0, c10); c11 = Fma.MultiplyAdd(a, b1, c11);
            a = Vector256.Create(pa[14]); c20 = Fma.MultiplyAdd(a, b0, c20); c21 = Fma.MultiplyAdd(a, b1, c21);
            a = Vector256.Create(pa[15]); c30 = Fma.MultiplyAdd(a, b0, c30); c31 = Fma.MultiplyAdd(a, b1, c31);
            a = Vector256.Create(pa[16]); c40 = Fma.MultiplyAdd(a, b0, c40); c41 = Fma.MultiplyAdd(a, b1, c41);
            a = Vector256.Create(pa[17]); c50 = Fma.MultiplyAdd(a, b0, c50); c51 = Fma.MultiplyAdd(a, b1, c51);
            b0 = Avx.LoadVector256(pb + 48); b1 = Avx.LoadVector256(pb + 56);
            a = Vector256.Create(pa[18]); c00 = Fma.MultiplyAdd(a, b0, c00); c01 = Fma.MultiplyAdd(a, b1, c01);
            a = Vector256.Create(pa[19]); c10 = Fma.MultiplyAdd(a, b0, c10); c11 = Fma.MultiplyAdd(a, b1, c11);
            a = Vector256.Create(pa[20]); c20 = Fma.MultiplyAdd(a, b0, c20); c21 = Fma.MultiplyAdd(a, b1, c21);
            a = Vector256.Create(pa[21]); c30 = Fma.MultiplyAdd(a, b0, c30); c31 = Fma.MultiplyAdd(a, b1, c31);
            a = Vector256.Create(pa[22]); c40 = Fma.MultiplyAdd(a, b0, c40); c41 = Fma.MultiplyAdd(a, b1, c41);
            a = Vector256.Create(pa[23]); c50 = Fma.MultiplyAdd(a, b0, c50); c51 = Fma.MultiplyAdd(a, b1, c51);
            pa += 4 * 6; pb += 4 * 16;
        }
        for (; p < kc; p++)
        {
            b0 = Avx.LoadVector256(pb + 0); b1 = Avx.LoadVector256(pb + 8);
            a = Vector256.Create(pa[0]); c00 = Fma.MultiplyAdd(a, b0, c00); c01 = Fma.MultiplyAdd(a, b1, c01);
            a = Vector256.Create(pa[1]); c10 = Fma.MultiplyAdd(a, b0, c10); c11 = Fma.MultiplyAdd(a, b1, c11);
            a = Vector256.Create(pa[2]); c20 = Fma.MultiplyAdd(a, b0, c20); c21 = Fma.MultiplyAdd(a, b1, c21);
            a = Vector256.Create(pa[3]); c30 = Fma.MultiplyAdd(a, b0, c30); c31 = Fma.MultiplyAdd(a, b1, c31);
            a = Vector256.Create(pa[4]); c40 = Fma.MultiplyAdd(a, b0, c40); c41 = Fma.MultiplyAdd(a, b1, c41);
            a = Vector256.Create(pa[5]); c50 = Fma.MultiplyAdd(a, b0, c50); c51 = Fma.MultiplyAdd(a, b1, c51);
            pa += 6; pb += 16;
        }

        if (accumulate)
        {
            c00 = Avx.Add(c00, Avx.LoadVector256(c)); c01 = Avx.Add(c01, Avx.LoadVector256(c + 8));
            c10 = Avx.Add(c10, Avx.LoadVector256(c + ldc)); c11 = Avx.Add(c11, Avx.LoadVector256(c + ldc + 8));
            c20 = Avx.Add(c20, Avx.LoadVector256(c + 2 * ldc)); c21 = Avx.Add(c21, Avx.LoadVector256(c + 2 * ldc + 8));
            c30 = Avx.Add(c30, Avx.LoadVector256(c + 3 * ldc)); c31 = Avx.Add(c31, Avx.LoadVector256(c + 3 * ldc + 8));
            c40 = Avx.Add(c40, Avx.LoadVector256(c + 4 * ldc)); c41 = Avx.Add(c41, Avx.LoadVector256(c + 4 * ldc + 8));
            c50 = Avx.Add(c50, Avx.LoadVector256(c + 5 * ldc)); c51 = Avx.Add(c51, Avx.LoadVector256(c + 5 * ldc + 8));
        }
        Avx.Store(c, c00); Avx.Store(c + 8, c01);
        Avx.Store(c + ldc, c10); Avx.Store(c + ldc + 8, c11);
        Avx.Store(c + 2 * ldc, c20); Avx.Store(c + 2 * ldc + 8, c21);
        Avx.Store(c + 3 * ldc, c30); Avx.Store(c + 3 * ldc + 8, c31);
        Avx.Store(c + 4 * ldc, c40); Avx.Store(c + 4 * ldc + 8, c41);
        Avx.Store(c + 5 * ldc, c50); Avx.Store(c + 5 * ldc + 8, c51);
    }

    /// <summary>AVX-512 12×32 kernel: per k step 2 B loads, 12 broadcasts, 24 FMAs; k unrolled by 2.
    /// Written out by hand for the same register-allocation reason as the AVX2 kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel12x32Avx512(int kc, float* pa, float* pb, float* c, long ldc, bool accumulate)
    {
        Vector512<float> c0_0 = default, c0_1 = default;
        Vector512<float> c1_0 = default, c1_1 = default;
        Vector512<float> c2_0 = default, c2_1 = default;
        Vector512<float> c3_0 = default, c3_1 = default;
        Vector512<float> c4_0 = default, c4_1 = default;
        Vector512<float> c5_0 = default, c5_1 = default;
        Vector512<float> c6_0 = default, c6_1 = default;
        Vector512<float> c7_0 = default, c7_1 = default;
        Vector512<float> c8_0 = default, c8_1 = default;
        Vector512<float> c9_0 = default, c9_1 = default;
        Vector512<float> c10_0 = default, c10_1 = default;
        Vector512<float> c11_0 = default, c11_1 = default;
        Vector512<float> b0, b1, a;
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            Sse.Prefetch0(pb + 32 * 6);
            b0 = Avx512F.LoadVector512(pb + 0); b1 = Avx512F.LoadVector512(pb + 16);
            a = Vector512.Create(pa[0]); c0_0 = Avx512F.FusedMultiplyAdd(a, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(a, b1, c0_1);
            a = Vector512.Create(pa[1]); c1_0 = Avx512F.FusedMultiplyAdd(a, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(a, b1, c1_1);
            a = Vector512.Create(pa[2]); c2_0 = Avx512F.FusedMultiplyAdd(a, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(a, b1, c2_1);
            a = Vector512.Create(pa[3]); c3_0 = Avx512F.FusedMultiplyAdd(a, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(a, b1, c3_1);
            a = Vector512.Create(pa[4]); c4_0 = Avx512F.FusedMultiplyAdd(a, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(a, b1, c4_1);
            a = Vector512.Create(pa[5]); c5_0 = Avx512F.FusedMultiplyAdd(a, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(a, b1, c5_1);
            a = Vector512.Create(pa[6]); c6_0 = Avx512F.FusedMultiplyAdd(a, b0, c6_0); c6_1 = Avx512F.FusedMultiplyAdd(a, b1, c6_1);
            a = Vector512.Create(pa[7]); c7_0 = Avx512F.FusedMultiplyAdd(a, b0, c7_0); c7_1 = Avx512F.FusedMultiplyAdd(a, b1, c7_1);
            a = Vector512.Create(pa[8]); c8_0 = Avx512F.FusedMultiplyAdd(a, b0, c8_0); c8_1 = Avx512F.FusedMultiplyAdd(a, b1, c8_1);
            a = Vector512.Create(pa[9]); c9_0 = Avx512F.FusedMultiplyAdd(a, b0, c9_0); c9_1 = Avx512F.FusedMultiplyAdd(a, b1, c9_1);
            a = Vector512.Create(pa[10]); c10_0 = Avx512F.FusedMultiplyAdd(a, b0, c10_0); c10_1 = Avx512F.FusedMultiplyAdd(a, b1, c10_1);
            a = Vector512.Create(pa[11]); c11_0 = Avx512F.FusedMultiplyAdd(a, b0, c11_0); c11_1 = Avx512F.FusedMultiplyAdd(a, b1, c11_1);
            b0 = Avx512F.LoadVector512(pb + 32); b1 = Avx512F.LoadVector512(pb + 48);
            a = Vector512.Create(pa[12]); c0_0 = Avx512F.FusedMultiplyAdd(a, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(a, b1, c0_1);
            a = Vector512.Create(pa[13]); c1_0 = Avx512F.FusedMultiplyAdd(a, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(a, b1, c1_1);
            a = Vector512.Create(pa[14]); c2_0 = Avx512F.FusedMultiplyAdd(a, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(a, b1, c2_1);
            a = Vector512.Create(pa[15]); c3_0 = Avx512F.FusedMultiplyAdd(a, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(a, b1, c3_1);
            a = Vector512.Create(pa[16]); c4_0 = Avx512F.FusedMultiplyAdd(a, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(a, b1, c4_1);
            a = Vector512.Create(pa[17]); c5_0 = Avx512F.FusedMultiplyAdd(a, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(a, b1, c5_1);
            a = Vector512.Create(pa[18]); c6_0 = Avx512F.FusedMultiplyAdd(a, b0, c6_0); c6_1 = Avx512F.FusedMultiplyAdd(a, b1, c6_1);
            a = Vector512.Create(pa[19]); c7_0 = Avx512F.FusedMultiplyAdd(a, b0, c7_0); c7_1 = Avx512F.FusedMultiplyAdd(a, b1, c7_1);
            a = Vector512.Create(pa[20]); c8_0 = Avx512F.FusedMultiplyAdd(a, b0, c8_0); c8_1 = Avx512F.FusedMultiplyAdd(a, b1, c8_1);
            a = Vector512.Create(pa[21]); c9_0 = Avx512F.FusedMultiplyAdd(a, b0, c9_0); c9_1 = Avx512F.FusedMultiplyAdd(a, b1, c9_1);
            a = Vector512.Create(pa[22]); c10_0 = Avx512F.FusedMultiplyAdd(a, b0, c10_0); c10_1 = Avx512F.FusedMultiplyAdd(a, b1, c10_1);
            a = Vector512.Create(pa[23]); c11_0 = Avx512F.FusedMultiplyAdd(a, b0, c11_0); c11_1 = Avx512F.FusedMultiplyAdd(a, b1, c11_1);
            pa += 2 * 12; pb += 2 * 32;
        }
        for (; p < kc; p++)
        {
            b0 = Avx512F.LoadVector512(pb + 0); b1 = Avx512F.LoadVector512(pb + 16);
            a = Vector512.Create(pa[0]); c0_0 = Avx512F.FusedMultiplyAdd(a, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(a, b1, c0_1);
            a = Vector512.Create(pa[1]); c1_0 = Avx512F.FusedMultiplyAdd(a, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(a, b1, c1_1);
            a = Vector512.Create(pa[2]); c2_0 = Avx512F.FusedMultiplyAdd(a, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(a, b1, c2_1);
            a = Vector512.Create(pa[3]); c3_0 = Avx512F.FusedMultiplyAdd(a, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(a, b1, c3_1);
            a = Vector512.Create(pa[4]); c4_0 = Avx512F.FusedMultiplyAdd(a, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(a, b1, c4_1);
            a = Vector512.Create(pa[5]); c5_0 = Avx512F.FusedMultiplyAdd(a, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(a, b1, c5_1);
            a = Vector512.Create(pa[6]); c6_0 = Avx512F.FusedMultiplyAdd(a, b0, c6_0); c6_1 = Avx512F.FusedMultiplyAdd(a, b1, c6_1);
            a = Vector512.Create(pa[7]); c7_0 = Avx512F.FusedMultiplyAdd(a, b0, c7_0); c7_1 = Avx512F.FusedMultiplyAdd(a, b1, c7_1);
            a = Vector512.Create(pa[8]); c8_0 = Avx512F.FusedMultiplyAdd(a, b0, c8_0); c8_1 = Avx512F.FusedMultiplyAdd(a, b1, c8_1);
            a = Vector512.Create(pa[9]); c9_0 = Avx512F.FusedMultiplyAdd(a, b0, c9_0); c9_1 = Avx512F.FusedMultiplyAdd(a, b1, c9_1);
            a = Vector512.Create(pa[10]); c10_0 = Avx512F.FusedMultiplyAdd(a, b0, c10_0); c10_1 = Avx512F.FusedMultiplyAdd(a, b1, c10_1);
            a = Vector512.Create(pa[11]); c11_0 = Avx512F.FusedMultiplyAdd(a, b0, c11_0); c11_1 = Avx512F.FusedMultiplyAdd(a, b1, c11_1);
            pa += 12; pb += 32;
        }
        if (accumulate)
        {
            c0_0 += Avx512F.LoadVector512(c + 0 * ldc); c0_1 += Avx512F.LoadVector512(c + 0 * ldc + 16);
            c1_0 += Avx512F.LoadVector512(c + 1 * ldc); c1_1 += Avx512F.LoadVector512(c + 1 * ldc + 16);
            c2_0 += Avx512F.LoadVector512(c + 2 * ldc); c2_1 += Avx512F.LoadVector512(c + 2 * ldc + 16);
            c3_0 += Avx512F.LoadVector512(c + 3 * ldc); c3_1 += Avx512F.LoadVector512(c + 3 * ldc + 16);
            c4_0 += Avx512F.LoadVector512(c + 4 * ldc); c4_1 += Avx512F.LoadVector512(c + 4 * ldc + 16);
            c5_0 += Avx512F.LoadVector512(c + 5 * ldc); c5_1 += Avx512F.LoadVector512(c + 5 * ldc + 16);
            c6_0 += Avx512F.LoadVector512(c + 6 * ldc); c6_1 += Avx512F.LoadVector512(c + 6 * ldc + 16);
            c7_0 += Avx512F.LoadVector512(c + 7 * ldc); c7_1 += Avx512F.LoadVector512(c + 7 * ldc + 16);
            c8_0 += Avx512F.LoadVector512(c + 8 * ldc); c8_1 += Avx512F.LoadVector512(c + 8 * ldc + 16);
            c9_0 += Avx512F.LoadVector512(c + 9 * ldc); c9_1 += Avx512F.LoadVector512(c + 9 * ldc + 16);
            c10_0 += Avx512F.LoadVector512(c + 10 * ldc); c10_1 += Avx512F.LoadVector512(c + 10 * ldc + 16);
            c11_0 += Avx512F.LoadVector512(c + 11 * ldc); c11_1 += Avx512F.LoadVector512(c + 11 * ldc + 16);
        }
        Avx512F.Store(c + 0 * ldc, c0_0); Avx512F.Store(c + 0 * ldc + 16, c0_1);
        Avx512F.Store(c + 1 * ldc, c1_0); Avx512F.Store(c + 1 * ldc + 16, c1_1);
        Avx512F.Store(c + 2 * ldc, c2_0); Avx512F.Store(c + 2 * ldc + 16, c2_1);
        Avx512F.Store(c + 3 * ldc, c3_0); Avx512F.Store(c + 3 * ldc + 16, c3_1);
        Avx512F.Store(c + 4 * ldc, c4_0); Avx512F.Store(c + 4 * ldc + 16, c4_1);
        Avx512F.Store(c + 5 * ldc, c5_0); Avx512F.Store(c + 5 * ldc + 16, c5_1);
        Avx512F.Store(c + 6 * ldc, c6_0); Avx512F.Store(c + 6 * ldc + 16, c6_1);
        Avx512F.Store(c + 7 * ldc, c7_0); Avx512F.Store(c + 7 * ldc + 16, c7_1);
        Avx512F.Store(c + 8 * ldc, c8_0); Avx512F.Store(c + 8 * ldc + 16, c8_1);
        Avx512F.Store(c + 9 * ldc, c9_0); Avx512F.Store(c + 9 * ldc + 16, c9_1);
        Avx512F.Store(c + 10 * ldc, c10_0); Avx512F.Store(c + 10 * ldc + 16, c10_1);
        Avx512F.Store(c + 11 * ldc, c11_0); Avx512F.Store(c + 11 * ldc + 16, c11_1);
    }

    /// <summary>
    /// Portable 6×16 kernel for CPUs without FMA (and for testing the tiling logic independently of
    /// the intrinsics path): one row of C at a time, Vector128 over columns (hardware-accelerated on
    /// SSE and NEON, software-emulated elsewhere but still correct).
    /// </summary>
    private static void KernelPortable(int kc, float* pa, float* pb, float* c, long ldc, int MR, int NR, bool accumulate)
    {
        for (int i = 0; i < MR; i++)
        for (int j0 = 0; j0 < NR; j0 += 16)
        {
            Vector128<float> s0 = default, s1 = default, s2 = default, s3 = default;
            float* ap = pa + i;
            float* bp = pb + j0;
            for (int p = 0; p < kc; p++)
            {
                var av = Vector128.Create(*ap);
                s0 += av * Vector128.Load(bp);
                s1 += av * Vector128.Load(bp + 4);
                s2 += av * Vector128.Load(bp + 8);
                s3 += av * Vector128.Load(bp + 12);
                ap += MR; bp += NR;
            }
            float* row = c + i * ldc + j0;
            if (accumulate)
            {
                s0 += Vector128.Load(row); s1 += Vector128.Load(row + 4);
                s2 += Vector128.Load(row + 8); s3 += Vector128.Load(row + 12);
            }
            s0.Store(row); s1.Store(row + 4); s2.Store(row + 8); s3.Store(row + 12);
        }
    }
}

/// <summary>Which micro-kernel (and therefore which MR×NR panel shape) Gemm uses.</summary>
internal enum GemmKernelKind
{
    /// <summary>Vector128 arithmetic, 6×16; any CPU.</summary>
    Portable,
    /// <summary>AVX2 + FMA, 6×16 (Haswell, Zen 1–3).</summary>
    Avx2,
    /// <summary>AVX-512F, 12×32 (Skylake-X and later, Zen 4+).</summary>
    Avx512,
}
