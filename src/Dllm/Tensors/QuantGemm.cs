using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dllm.Tensors;

/// <summary>The int8 dot-product kernels of <see cref="QuantGemm"/>, best first.</summary>
public enum QuantKernelKind
{
    /// <summary>Scalar C#; runs anywhere.</summary>
    Portable,
    /// <summary>AVX2 + FMA: vpmaddubsw then vpmaddwd against ones (Zen 3, Haswell and later).</summary>
    Avx2,
    /// <summary>AVX-VNNI vpdpbusd on 256-bit vectors (Zen 4, Alder Lake and later). .NET 10 exposes no
    /// 512-bit vpdpbusd (there is no Avx512Vnni class), so this is the widest int8 dot product available;
    /// on Zen 4, which splits 512-bit operations in two, it has the same throughput.</summary>
    AvxVnni,
}

/// <summary>
/// C[m×n] (+)= X[m×k] · Wᵀ for float32 activations X and a weight W (n × k) stored in a block-quantized
/// <see cref="DType"/> (Q8_0, Q4_0), computed as llama.cpp does for these formats: each activation row is
/// quantized per block of 32 to int8 with its own scale dx = max|x|/127 (q = x·127/max|x| rounded half to even,
/// as ggml's SIMD <c>quantize_row_q8_0</c>; the scale is kept in f32, not rounded to f16 as ggml does), then
/// C[i, j] = Σ_b dx[i,b]·dw[j,b]·(Σ_t qx[i,b,t]·qw[j,b,t]) with exact integer block dots.
/// <para>
/// The integer dot works around vpmaddubsw and vpdpbusd multiplying unsigned by signed bytes: AVX2 uses
/// |w| · (x·sign(w)) = x·w (llama.cpp's trick), AVX-VNNI (x + 128)·w with the accumulator started at −128·Σw,
/// precomputed per weight block (<see cref="VnniDot"/>); both give the exact integer lanes. Each block gives
/// 8 int32 lanes (lane l sums values 4l..4l+3) that are widened, multiplied by dx and accumulated into 8 float
/// lanes by an FMA with dw; the lanes are summed in a fixed tree order at the end. Every kernel kind performs these same float
/// operations in the same order, so all kinds give bit-identical results, and each C element is computed by one
/// thread in that order whatever the thread count.
/// </para>
/// <para>
/// Blocking: the weight is walked in chunks of <see cref="NW"/> rows, unpacked once per chunk to int8 values,
/// their magnitudes and float scales (this is where Q4_0 nibbles become bytes), and then every activation row
/// is dotted with the chunk while it sits in L1, MR = 4 activation rows at a time (a 4 × 4 tile of C in 16
/// vector accumulators). Threads take disjoint ranges of chunks (columns of C).
/// </para>
/// <para>Edge cases: m = 0 or n = 0 does nothing; k must be a multiple of 32 (the weight is whole blocks).</para>
/// </summary>
public static unsafe class QuantGemm
{
    /// <summary>Weight rows per chunk, and activation rows per tile: a tile is MR × NW outputs.</summary>
    private const int NW = 4, MR = 4;

    /// <summary>The best kernel this CPU supports.</summary>
    public static readonly QuantKernelKind Best =
        AvxVnni.IsSupported && Fma.IsSupported ? QuantKernelKind.AvxVnni : Avx2.IsSupported && Fma.IsSupported ? QuantKernelKind.Avx2 : QuantKernelKind.Portable;

    private static QuantKernelKind _kind = Best;

    /// <summary>The kernel in use; tests lower it to cover the other paths on a bigger CPU.</summary>
    /// <exception cref="ArgumentException">The CPU cannot run the requested kernel.</exception>
    public static QuantKernelKind Kind
    {
        get => _kind;
        set
        {
            if (value > Best) throw new ArgumentException($"this CPU cannot run the {value} int8 kernel (best: {Best})", nameof(value));
            _kind = value;
        }
    }

    /// <summary>C (+)= X·Wᵀ. <paramref name="x"/>: F32 [m × k] with ColStride 1; <paramref name="w"/>: quantized [n × k],
    /// row-contiguous, rows starting at block boundaries; C row-major with leading dimension <paramref name="ldc"/> ≥ n.</summary>
    /// <exception cref="ArgumentException">Inner dimensions differ, k is not whole blocks, or ldc &lt; n.</exception>
    /// <exception cref="NotSupportedException">X is not row-contiguous float32 or W is not a row-contiguous quantized matrix.</exception>
    public static void Multiply(in MatrixView x, in MatrixView w, float* c, long ldc, bool accumulate = false)
    {
        int m = x.Rows, n = w.Rows, k = x.Cols;
        if (w.Cols != k) throw new ArgumentException($"inner dimensions differ: X is {x.Rows}x{x.Cols}, W is {w.Rows}x{w.Cols}");
        if (!w.DType.IsQuantized() || !w.IsRowContiguous || w.RowStride % DTypeInfo.QuantBlock != 0)
            throw new NotSupportedException($"the int8 GEMM needs a row-contiguous quantized weight, got {w}");
        if (x.DType != DType.F32 || !x.IsRowContiguous)
            throw new NotSupportedException($"a {w.DType} weight multiplies row-contiguous float32 activations only, got {x}");
        if (k % DTypeInfo.QuantBlock != 0) throw new ArgumentException($"k = {k} is not a multiple of {DTypeInfo.QuantBlock}");
        if (ldc < n) throw new ArgumentException($"ldc ({ldc}) is smaller than n ({n})", nameof(ldc));
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) for (int i = 0; i < m; i++) new Span<float>(c + i * ldc, n).Clear();
            return;
        }

        // Quantize the activations once: qx [m × k] int8, dx [m × k/32] scales.
        int nb = k / DTypeInfo.QuantBlock;
        int mPad = (m + MR - 1) / MR * MR; // zero rows pad the last tile
        var act = Scratch.ForThisThread(ref t_act, (long)mPad * k, (long)mPad * nb);
        for (int i = 0; i < m; i++)
            QuantizeActivations((float*)x.At(i, 0), k, act.Q + (long)i * k, act.D + (long)i * nb, _kind != QuantKernelKind.Portable);
        new Span<byte>(act.Q + (long)m * k, (mPad - m) * k).Clear();
        new Span<float>(act.D + (long)m * nb, (mPad - m) * nb).Clear();

        int chunks = (n + NW - 1) / NW;
        int parts = (long)m * n * k < Gemm.ParallelThreshold ? 1 : Math.Min(Parallelism.Threads, chunks);
        MatrixView wv = w;
        nint qx = (nint)act.Q, dx = (nint)act.D, cp = (nint)c;
        QuantKernelKind kind = _kind;
        void Part(int t)
        {
            int q0 = (int)((long)chunks * t / parts), q1 = (int)((long)chunks * (t + 1) / parts);
            var wb = Scratch.ForThisThread(ref t_weights, 2L * NW * k, (long)NW * nb);
            float* tile = stackalloc float[MR * NW];
            for (int q = q0; q < q1; q++)
            {
                int j0 = q * NW, rows = Math.Min(NW, n - j0);
                Unpack(wv, j0, rows, k, (sbyte*)wb.Q, wb.Q + NW * k, wb.D, kind);
                for (int i0 = 0; i0 < m; i0 += MR)
                {
                    Tile(kind, (sbyte*)qx + (long)i0 * k, (float*)dx + (long)i0 * nb, nb, (sbyte*)wb.Q, wb.Q + NW * k, wb.D, k, tile);
                    for (int r = 0; r < Math.Min(MR, m - i0); r++)
                    {
                        float* cRow = (float*)cp + (i0 + r) * ldc + j0;
                        for (int j = 0; j < rows; j++) cRow[j] = accumulate ? cRow[j] + tile[r * NW + j] : tile[r * NW + j];
                    }
                }
            }
        }
        if (parts == 1) Part(0);
        else Parallelism.For(0, parts, Part);
    }

    /// <summary>One activation row to Q8 blocks: dx = max|x|/127, q = round-half-even(x·127/max|x|) (0 for an all-zero block).
    /// The vector path (AVX2) gives the same bytes as the scalar one: the same float products, rounded the same way.</summary>
    internal static void QuantizeActivations(float* x, int k, byte* q, float* d, bool vector)
    {
        for (int b = 0; b < k / 32; b++)
        {
            float* xb = x + b * 32;
            sbyte* qb = (sbyte*)q + b * 32;
            if (vector)
            {
                Vector256<float> v0 = Avx.LoadVector256(xb), v1 = Avx.LoadVector256(xb + 8), v2 = Avx.LoadVector256(xb + 16), v3 = Avx.LoadVector256(xb + 24);
                Vector256<float> m = Avx.Max(Avx.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Avx.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
                Vector128<float> h = Sse.Max(m.GetLower(), m.GetUpper());
                h = Sse.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
                float amax = MathF.Max(h.ToScalar(), h.GetElement(1));
                d[b] = amax / 127f;
                var id = Vector256.Create(amax != 0 ? 127f / amax : 0f);
                Vector256<int> i0 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(Avx.Multiply(v0, id)));
                Vector256<int> i1 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(Avx.Multiply(v1, id)));
                Vector256<int> i2 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(Avx.Multiply(v2, id)));
                Vector256<int> i3 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(Avx.Multiply(v3, id)));
                // The packs interleave 128-bit lanes; the permute puts the 32 bytes back in order.
                Vector256<sbyte> p = Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(i0, i1), Avx2.PackSignedSaturate(i2, i3));
                Avx.Store(qb, Avx2.PermuteVar8x32(p.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).AsSByte());
                continue;
            }
            float amaxScalar = 0;
            for (int j = 0; j < 32; j++) amaxScalar = MathF.Max(amaxScalar, MathF.Abs(xb[j]));
            d[b] = amaxScalar / 127f;
            float inv = amaxScalar != 0 ? 127f / amaxScalar : 0f;
            for (int j = 0; j < 32; j++) qb[j] = (sbyte)MathF.Round(xb[j] * inv, MidpointRounding.ToEven);
        }
    }

    /// <summary>Rows [j0, j0+rows) of W to int8 values qw [NW × k], scales dw [NW × k/32] and per block 32 bytes of aw
    /// [NW × k]: the magnitudes |w| (AVX2 and portable), or for AVX-VNNI the 8 int32 lane corrections −128·Σw;
    /// rows past <paramref name="rows"/> are zero.</summary>
    private static void Unpack(in MatrixView w, int j0, int rows, int k, sbyte* qw, byte* aw, float* dw, QuantKernelKind kind)
    {
        bool vector = kind != QuantKernelKind.Portable;
        int nb = k / 32, bb = w.DType.BlockBytes();
        for (int r = 0; r < NW; r++)
        {
            sbyte* q = qw + r * k;
            float* d = dw + r * nb;
            if (r >= rows)
            {
                new Span<byte>(q, k).Clear(); new Span<byte>(aw + r * k, k).Clear(); new Span<float>(d, nb).Clear();
                continue;
            }
            byte* p = (byte*)w.At(j0 + r, 0);
            for (int b = 0; b < nb; b++, p += bb)
            {
                d[b] = QuantBlocks.Scale(p);
                sbyte* o = q + b * 32;
                if (vector)
                {
                    Vector256<sbyte> v;
                    if (w.DType == DType.Q8_0) v = Avx.LoadVector256((sbyte*)(p + 2));
                    else
                    {
                        Vector128<byte> packed = Sse2.LoadVector128(p + 2), low = Vector128.Create((byte)0xF);
                        Vector128<byte> lo = packed & low, hi = Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & low;
                        v = Avx2.Subtract(Vector256.Create(lo, hi), Vector256.Create((byte)8)).AsSByte();
                    }
                    Avx.Store(o, v);
                    if (kind == QuantKernelKind.AvxVnni) // −128·Σ w over each lane: see VnniDot
                        Avx.Store((int*)(aw + r * k + b * 32), Vector256<int>.Zero - AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, Vector256.Create((byte)0x80), v));
                    else Avx.Store(aw + r * k + b * 32, Avx2.Abs(v));
                    continue;
                }
                if (w.DType == DType.Q8_0) Unsafe.CopyBlockUnaligned(o, p + 2, 32);
                else
                    for (int j = 0; j < 16; j++)
                    {
                        o[j] = (sbyte)((p[2 + j] & 0xF) - 8);
                        o[j + 16] = (sbyte)((p[2 + j] >> 4) - 8);
                    }
                for (int t = 0; t < 32; t++) aw[r * k + b * 32 + t] = (byte)Math.Abs((int)o[t]);
            }
        }
    }

    /// <summary>
    /// The MR×NW tile C[i0.., j0..] from MR activation rows and the unpacked chunk: for each block b and pair (r, j),
    /// acc[r,j] = fma(float(dot_b) · dx[r,b], dw[j,b], acc[r,j]) on 8 lanes, then <see cref="HSum"/>. Written to
    /// <paramref name="tile"/> [MR × NW].
    /// </summary>
    private static void Tile(QuantKernelKind kind, sbyte* qx, float* dx, int nb, sbyte* qw, byte* aw, float* dw, int k, float* tile)
    {
        if (kind == QuantKernelKind.Portable) TilePortable(qx, dx, nb, qw, dw, k, tile);
        else if (NarrowTiles)
        {
            // Two 2×4 halves: 8 accumulators + 2 activations + 2 scales + one weight's 3 fit AVX2's 16 registers.
            if (kind == QuantKernelKind.AvxVnni) { TileHalf<VnniDot>(qx, dx, nb, qw, aw, dw, k, tile); TileHalf<VnniDot>(qx + 2 * k, dx + 2 * nb, nb, qw, aw, dw, k, tile + 2 * NW); }
            else { TileHalf<Avx2Dot>(qx, dx, nb, qw, aw, dw, k, tile); TileHalf<Avx2Dot>(qx + 2 * k, dx + 2 * nb, nb, qw, aw, dw, k, tile + 2 * NW); }
        }
        else if (kind == QuantKernelKind.AvxVnni) TileVector<VnniDot>(qx, dx, nb, qw, aw, dw, k, tile);
        else TileVector<Avx2Dot>(qx, dx, nb, qw, aw, dw, k, tile);
    }

    /// <summary>Use 2×4 register tiles instead of 4×4: on CPUs without AVX-512, whose 16 vector registers the 4×4 tile
    /// would spill. The tile shape does not change any element's order of operations, so results are identical;
    /// tests flip it to cover both shapes on one machine.</summary>
    internal static bool NarrowTiles { get; set; } = !Avx512F.IsSupported;

    /// <summary>Rows 0..1 of a tile (see <see cref="TileVector{TDot}"/>), written to tile[0 .. 2·NW).</summary>
    private static void TileHalf<TDot>(sbyte* qx, float* dx, int nb, sbyte* qw, byte* aw, float* dw, int k, float* tile) where TDot : struct, IDot
    {
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        Vector256<short> ones = Vector256.Create((short)1);
        for (int b = 0; b < nb; b++)
        {
            int o = b * 32;
            Vector256<sbyte> x0 = TDot.Prepare(Avx.LoadVector256(qx + o)), x1 = TDot.Prepare(Avx.LoadVector256(qx + k + o));
            Vector256<float> s0 = Vector256.Create(dx[b]), s1 = Vector256.Create(dx[nb + b]);
            Vector256<sbyte> w = Avx.LoadVector256(qw + o); Vector256<byte> a = Avx.LoadVector256(aw + o); Vector256<float> t = Vector256.Create(dw[b]);
            c00 = Pair<TDot>(x0, w, a, s0, t, c00, ones); c10 = Pair<TDot>(x1, w, a, s1, t, c10, ones);
            w = Avx.LoadVector256(qw + k + o); a = Avx.LoadVector256(aw + k + o); t = Vector256.Create(dw[nb + b]);
            c01 = Pair<TDot>(x0, w, a, s0, t, c01, ones); c11 = Pair<TDot>(x1, w, a, s1, t, c11, ones);
            w = Avx.LoadVector256(qw + 2 * k + o); a = Avx.LoadVector256(aw + 2 * k + o); t = Vector256.Create(dw[2 * nb + b]);
            c02 = Pair<TDot>(x0, w, a, s0, t, c02, ones); c12 = Pair<TDot>(x1, w, a, s1, t, c12, ones);
            w = Avx.LoadVector256(qw + 3 * k + o); a = Avx.LoadVector256(aw + 3 * k + o); t = Vector256.Create(dw[3 * nb + b]);
            c03 = Pair<TDot>(x0, w, a, s0, t, c03, ones); c13 = Pair<TDot>(x1, w, a, s1, t, c13, ones);
        }
        tile[0] = HSum(c00); tile[1] = HSum(c01); tile[2] = HSum(c02); tile[3] = HSum(c03);
        tile[4] = HSum(c10); tile[5] = HSum(c11); tile[6] = HSum(c12); tile[7] = HSum(c13);
    }

    private static void TileVector<TDot>(sbyte* qx, float* dx, int nb, sbyte* qw, byte* aw, float* dw, int k, float* tile) where TDot : struct, IDot
    {
        // 16 accumulators + 4 activation vectors + 4 activation scales + one weight's 3 = 27 of the 32 registers
        // AVX-512 hardware gives 256-bit code (an AVX2-only CPU spills some of them).
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default,
            c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        Vector256<short> ones = Vector256.Create((short)1);
        for (int b = 0; b < nb; b++)
        {
            int o = b * 32;
            Vector256<sbyte> x0 = TDot.Prepare(Avx.LoadVector256(qx + o)), x1 = TDot.Prepare(Avx.LoadVector256(qx + k + o)),
                x2 = TDot.Prepare(Avx.LoadVector256(qx + 2 * k + o)), x3 = TDot.Prepare(Avx.LoadVector256(qx + 3 * k + o));
            Vector256<float> s0 = Vector256.Create(dx[b]), s1 = Vector256.Create(dx[nb + b]),
                s2 = Vector256.Create(dx[2 * nb + b]), s3 = Vector256.Create(dx[3 * nb + b]);
            Vector256<sbyte> w = Avx.LoadVector256(qw + o); Vector256<byte> a = Avx.LoadVector256(aw + o); Vector256<float> t = Vector256.Create(dw[b]);
            c00 = Pair<TDot>(x0, w, a, s0, t, c00, ones); c10 = Pair<TDot>(x1, w, a, s1, t, c10, ones);
            c20 = Pair<TDot>(x2, w, a, s2, t, c20, ones); c30 = Pair<TDot>(x3, w, a, s3, t, c30, ones);
            w = Avx.LoadVector256(qw + k + o); a = Avx.LoadVector256(aw + k + o); t = Vector256.Create(dw[nb + b]);
            c01 = Pair<TDot>(x0, w, a, s0, t, c01, ones); c11 = Pair<TDot>(x1, w, a, s1, t, c11, ones);
            c21 = Pair<TDot>(x2, w, a, s2, t, c21, ones); c31 = Pair<TDot>(x3, w, a, s3, t, c31, ones);
            w = Avx.LoadVector256(qw + 2 * k + o); a = Avx.LoadVector256(aw + 2 * k + o); t = Vector256.Create(dw[2 * nb + b]);
            c02 = Pair<TDot>(x0, w, a, s0, t, c02, ones); c12 = Pair<TDot>(x1, w, a, s1, t, c12, ones);
            c22 = Pair<TDot>(x2, w, a, s2, t, c22, ones); c32 = Pair<TDot>(x3, w, a, s3, t, c32, ones);
            w = Avx.LoadVector256(qw + 3 * k + o); a = Avx.LoadVector256(aw + 3 * k + o); t = Vector256.Create(dw[3 * nb + b]);
            c03 = Pair<TDot>(x0, w, a, s0, t, c03, ones); c13 = Pair<TDot>(x1, w, a, s1, t, c13, ones);
            c23 = Pair<TDot>(x2, w, a, s2, t, c23, ones); c33 = Pair<TDot>(x3, w, a, s3, t, c33, ones);
        }
        tile[0] = HSum(c00); tile[1] = HSum(c01); tile[2] = HSum(c02); tile[3] = HSum(c03);
        tile[4] = HSum(c10); tile[5] = HSum(c11); tile[6] = HSum(c12); tile[7] = HSum(c13);
        tile[8] = HSum(c20); tile[9] = HSum(c21); tile[10] = HSum(c22); tile[11] = HSum(c23);
        tile[12] = HSum(c30); tile[13] = HSum(c31); tile[14] = HSum(c32); tile[15] = HSum(c33);
    }

    /// <summary>acc + float(Σ x·w over each 4-byte lane) · sx · sw, via |w| · (x·sign(w)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Pair<TDot>(Vector256<sbyte> x, Vector256<sbyte> w, Vector256<byte> a, Vector256<float> sx, Vector256<float> sw, Vector256<float> acc, Vector256<short> ones)
        where TDot : struct, IDot
    {
        Vector256<int> dot = TDot.Dot(x, w, a, ones);
        return Fma.MultiplyAdd(Avx.Multiply(Avx.ConvertToVector256Single(dot), sx), sw, acc);
    }

    /// <summary>8 int32 lanes, lane l = Σ over bytes 4l..4l+3 of x·w (exactly); a struct type argument so the JIT
    /// compiles one tile loop per instruction set with no branch inside. <see cref="Prepare"/> is applied to each
    /// activation vector once per 4 weight rows; aux is the per-block data <see cref="Unpack"/> stored.</summary>
    private interface IDot
    {
        static abstract Vector256<sbyte> Prepare(Vector256<sbyte> x);
        static abstract Vector256<int> Dot(Vector256<sbyte> x, Vector256<sbyte> w, Vector256<byte> aux, Vector256<short> ones);
    }

    /// <summary>vpdpbusd multiplies unsigned by signed bytes: with u = x + 128 (x xor 0x80) and the accumulator
    /// started at −128·Σw (aux), the lanes are Σ (x + 128)·w − 128·Σ w = Σ x·w, one instruction per pair.</summary>
    private struct VnniDot : IDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Prepare(Vector256<sbyte> x) => x ^ Vector256.Create(unchecked((sbyte)0x80));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<sbyte> x, Vector256<sbyte> w, Vector256<byte> aux, Vector256<short> ones)
            => AvxVnni.MultiplyWideningAndAdd(aux.AsInt32(), x.AsByte(), w);
    }

    /// <summary>|w| · (x·sign(w)) = x·w with vpmaddubsw (pairs to int16; |w| ≤ 128 and |x| ≤ 127, so no pair saturates)
    /// then vpmaddwd against ones; aux holds |w|.</summary>
    private struct Avx2Dot : IDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Prepare(Vector256<sbyte> x) => x;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<sbyte> x, Vector256<sbyte> w, Vector256<byte> aux, Vector256<short> ones)
            => Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(aux, Avx2.Sign(x, w)), ones);
    }

    /// <summary>The fixed reduction order of 8 lanes: ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HSum(Vector256<float> v)
    {
        Vector128<float> h = v.GetLower() + v.GetUpper();
        Vector128<float> q = h + Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1));
        return q.ToScalar() + q.GetElement(1);
    }

    private static void TilePortable(sbyte* qx, float* dx, int nb, sbyte* qw, float* dw, int k, float* tile)
    {
        float* l = stackalloc float[8];
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NW; j++)
            {
                for (int t = 0; t < 8; t++) l[t] = 0;
                sbyte* x = qx + r * k, w = qw + j * k;
                for (int b = 0; b < nb; b++)
                {
                    float sx = dx[r * nb + b], sw = dw[j * nb + b];
                    for (int t = 0; t < 8; t++)
                    {
                        int o = b * 32 + t * 4;
                        int dot = x[o] * w[o] + x[o + 1] * w[o + 1] + x[o + 2] * w[o + 2] + x[o + 3] * w[o + 3];
                        l[t] = MathF.FusedMultiplyAdd(dot * sx, sw, l[t]);
                    }
                }
                tile[r * NW + j] = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
            }
    }

    [ThreadStatic] private static Scratch? t_act;
    [ThreadStatic] private static Scratch? t_weights;

    /// <summary>A thread's growable native buffers: bytes Q and floats D (freed by the finalizer when the thread dies).</summary>
    private sealed class Scratch
    {
        public byte* Q;
        public float* D;
        private long _q, _d;

        public static Scratch ForThisThread(ref Scratch? slot, long bytes, long floats)
        {
            var s = slot ??= new Scratch();
            if (bytes > s._q) { NativeMemory.AlignedFree(s.Q); s.Q = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64); s._q = bytes; }
            if (floats > s._d) { NativeMemory.AlignedFree(s.D); s.D = (float*)NativeMemory.AlignedAlloc((nuint)(floats * 4), 64); s._d = floats; }
            return s;
        }

        ~Scratch() { NativeMemory.AlignedFree(Q); NativeMemory.AlignedFree(D); }
    }
}
