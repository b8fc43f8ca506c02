using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dllm.Tensors;

/// <summary>
/// The innermost GEMM loop: one MR×NR tile of C (6×16) updated from a packed A panel
/// (kc groups of MR floats, see <see cref="GemmPacking.PackA"/>) and a packed B panel
/// (kc groups of NR floats, see <see cref="GemmPacking.PackB"/>).
/// <para>
/// Why 6×16: AVX2 has 16 ymm registers. 6 rows × 2 vectors of 8 columns = 12 accumulators,
/// plus 2 registers for the B row and 1 for the broadcast A element = 15, so nothing spills,
/// and each k step issues 12 FMAs for 2 loads + 6 broadcasts, which keeps both FMA pipes of
/// a Zen core busy.
/// </para>
/// <para>
/// Edge tiles (fewer than MR rows or NR columns left) are computed by the same full-size kernel
/// into a stack tile and only the valid part is written to C; this is correct because the packed
/// panels are zero-padded, and it keeps a single hot loop.
/// </para>
/// </summary>
internal static unsafe class GemmMicroKernel
{
    /// <summary>Rows of C per micro-tile.</summary>
    public const int MR = 6;
    /// <summary>Columns of C per micro-tile.</summary>
    public const int NR = 16;

    /// <summary>Tests set this to run the portable (non-FMA) kernel on machines that have FMA.</summary>
    internal static bool ForcePortable;

    /// <summary>
    /// C[0..mr, 0..nr) (+)= Apanel · Bpanel over kc steps. When <paramref name="accumulate"/> is false
    /// the tile is overwritten. <paramref name="mr"/> ≤ MR and <paramref name="nr"/> ≤ NR; kc may be 0
    /// (then the tile is zeroed or left as is).
    /// </summary>
    public static void Tile(int kc, float* pa, float* pb, float* c, long ldc, int mr, int nr, bool accumulate)
    {
        bool fast = Fma.IsSupported && !ForcePortable;
        if (mr == MR && nr == NR)
        {
            if (fast) Kernel6x16Fma(kc, pa, pb, c, ldc, accumulate);
            else KernelPortable(kc, pa, pb, c, ldc, accumulate);
            return;
        }
        // Partial tile: compute the full 6×16 into scratch, then copy the valid corner.
        float* tmp = stackalloc float[MR * NR];
        if (fast) Kernel6x16Fma(kc, pa, pb, tmp, NR, false);
        else KernelPortable(kc, pa, pb, tmp, NR, false);
        for (int i = 0; i < mr; i++)
        {
            float* src = tmp + i * NR;
            float* dst = c + i * ldc;
            if (accumulate) for (int j = 0; j < nr; j++) dst[j] += src[j];
            else for (int j = 0; j < nr; j++) dst[j] = src[j];
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
            pa += 4 * MR; pb += 4 * NR;
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
            pa += MR; pb += NR;
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

    /// <summary>
    /// Portable 6×16 kernel for CPUs without FMA (and for testing the tiling logic independently of
    /// the intrinsics path): one row of C at a time, Vector128 over columns (hardware-accelerated on
    /// SSE and NEON, software-emulated elsewhere but still correct).
    /// </summary>
    private static void KernelPortable(int kc, float* pa, float* pb, float* c, long ldc, bool accumulate)
    {
        for (int i = 0; i < MR; i++)
        {
            Vector128<float> s0 = default, s1 = default, s2 = default, s3 = default;
            float* ap = pa + i;
            float* bp = pb;
            for (int p = 0; p < kc; p++)
            {
                var av = Vector128.Create(*ap);
                s0 += av * Vector128.Load(bp);
                s1 += av * Vector128.Load(bp + 4);
                s2 += av * Vector128.Load(bp + 8);
                s3 += av * Vector128.Load(bp + 12);
                ap += MR; bp += NR;
            }
            float* row = c + i * ldc;
            if (accumulate)
            {
                s0 += Vector128.Load(row); s1 += Vector128.Load(row + 4);
                s2 += Vector128.Load(row + 8); s3 += Vector128.Load(row + 12);
            }
            s0.Store(row); s1.Store(row + 4); s2.Store(row + 8); s3.Store(row + 12);
        }
    }
}
