using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dllm.Tensors;

/// <summary>
/// Blocks of 32 with a scale per half (Q6_K: ggml's int8 scale per 16 values): the block dot of activation row r and
/// weight row j is the exact integer sc_lo[j]·Σ_{t&lt;16} qx·w + sc_hi[j]·Σ_{t≥16} qx·w, then
/// C[r, j] = fma(float(dot), dx[r,b]·dw[j,b], C[r, j]) per block in order, as for Q8_0; all kinds agree bit for bit.
/// <para>AVX-VNNI: the interleaved groups t = 0..3 hold values 0..15, t = 4..7 values 16..31, so each half gets its own
/// accumulator (started at −128·Σw of the half) and the two are combined with vpmulld. AVX2 (<c>TileAvx2</c>, shared
/// with the other formats): lanes 0..3 of a row's vpmaddwd result hold values 0..15, lanes 4..7 values 16..31, so the 8
/// partial sums are multiplied by [sc_lo ×4, sc_hi ×4] before the horizontal-add tree. |w| ≤ 32, so no 16-bit pair
/// saturates. Portable: <c>TilePortable</c> sums the two halves apart.</para>
/// </summary>
internal static unsafe partial class QuantGemmKernel
{
    /// <summary>Ints per block in the half-scale buffer: [j·8 + lane] = lane &lt; 4 ? sc_lo[j] : sc_hi[j] (AVX2), then
    /// sc_lo of rows 0..7 at 64, sc_hi at 72 (AVX-VNNI and portable).</summary>
    public const int HalfScaleInts = 80;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetHalfScales(int* hs, int b, int r, int lo, int hi)
    {
        int* h = hs + (long)b * HalfScaleInts;
        for (int lane = 0; lane < 8; lane++) h[r * 8 + lane] = lane < 4 ? lo : hi;
        h[64 + r] = lo;
        h[72 + r] = hi;
    }

    private static void TileHalvesVnni(byte* qx, float* dx, int nb, int k, byte* qw, byte* aux, float* dw, int* hs, float* tile)
    {
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        for (int b = 0; b < nb; b++)
        {
            byte* wb = qw + (long)b * ChunkBlockBytes, ab = aux + (long)b * ChunkBlockBytes;
            int* h = hs + (long)b * HalfScaleInts;
            Vector256<int> startLo = Avx.LoadVector256((int*)ab), startHi = Avx.LoadVector256((int*)(ab + 32));
            Vector256<int> l0 = startLo, l1 = startLo, l2 = startLo, l3 = startLo, h0 = startHi, h1 = startHi, h2 = startHi, h3 = startHi;
            byte* x = qx + b * 32;
            for (int t = 0; t < 4; t++)
            {
                Vector256<sbyte> w = Avx.LoadVector256((sbyte*)wb + t * 32), wh = Avx.LoadVector256((sbyte*)wb + (t + 4) * 32);
                int o = t * 4, oh = o + 16;
                l0 = AvxVnni.MultiplyWideningAndAdd(l0, Vector256.Create(*(int*)(x + o)).AsByte(), w);
                l1 = AvxVnni.MultiplyWideningAndAdd(l1, Vector256.Create(*(int*)(x + k + o)).AsByte(), w);
                l2 = AvxVnni.MultiplyWideningAndAdd(l2, Vector256.Create(*(int*)(x + 2 * k + o)).AsByte(), w);
                l3 = AvxVnni.MultiplyWideningAndAdd(l3, Vector256.Create(*(int*)(x + 3 * k + o)).AsByte(), w);
                h0 = AvxVnni.MultiplyWideningAndAdd(h0, Vector256.Create(*(int*)(x + oh)).AsByte(), wh);
                h1 = AvxVnni.MultiplyWideningAndAdd(h1, Vector256.Create(*(int*)(x + k + oh)).AsByte(), wh);
                h2 = AvxVnni.MultiplyWideningAndAdd(h2, Vector256.Create(*(int*)(x + 2 * k + oh)).AsByte(), wh);
                h3 = AvxVnni.MultiplyWideningAndAdd(h3, Vector256.Create(*(int*)(x + 3 * k + oh)).AsByte(), wh);
            }
            Vector256<int> sl = Avx.LoadVector256(h + 64), sh = Avx.LoadVector256(h + 72);
            Vector256<float> sw = Avx.LoadVector256(dw + b * NW);
            f0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Add(Avx2.MultiplyLow(l0, sl), Avx2.MultiplyLow(h0, sh))), Avx.Multiply(sw, Vector256.Create(dx[b])), f0);
            f1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Add(Avx2.MultiplyLow(l1, sl), Avx2.MultiplyLow(h1, sh))), Avx.Multiply(sw, Vector256.Create(dx[nb + b])), f1);
            f2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Add(Avx2.MultiplyLow(l2, sl), Avx2.MultiplyLow(h2, sh))), Avx.Multiply(sw, Vector256.Create(dx[2 * nb + b])), f2);
            f3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Add(Avx2.MultiplyLow(l3, sl), Avx2.MultiplyLow(h3, sh))), Avx.Multiply(sw, Vector256.Create(dx[3 * nb + b])), f3);
        }
        Avx.Store(tile, f0); Avx.Store(tile + NW, f1); Avx.Store(tile + 2 * NW, f2); Avx.Store(tile + 3 * NW, f3);
    }
}
