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
/// <see cref="DType"/> (Q8_0, Q5_0, Q4_0, Q6_K, Q5_K, Q4_K), computed as llama.cpp does for Q8_0 and Q4_0: each activation row is
/// quantized per block of 32 to int8 with its own scale dx = max|x|/127 (q = x·127/max|x| rounded half to even,
/// as ggml's SIMD <c>quantize_row_q8_0</c>; the scale is kept in f32, not rounded to f16 as ggml does), then
/// C[i, j] = Σ_b dx[i,b]·dw[j,b]·(Σ_t qx[i,b,t]·qw[j,b,t]) with exact integer block dots.
/// <para>
/// Q4_K: the same int8 activation blocks of 32 against each 32-value sub-block, whose value is dw·q + mw (dw = d·sc,
/// mw = −dmin·m, q = 0..15): C[i, j] = Σ_b [dx·dw·(Σ_t qx·q) + mw·(dx·Σ_t qx)], each block's two terms fused in that
/// order. llama.cpp instead quantizes activations per 256 (block_q8_K); blocks of 32 follow the activations more closely.
/// Q5_K is the same with codes q = 0..31 (the fifth bit joined to the nibble when packed). Q5_0: codes q − 16, dw = d,
/// then as Q8_0 (llama.cpp's <c>vec_dot_q5_0_q8_0</c> does the same per-32 dot).
/// Q6_K: codes q − 32 with two int8 scales per block of 32 (one per 16 values) and dw = d: the block's integer dot
/// is sc_lo·(dot of values 0..15) + sc_hi·(dot of values 16..31), exact in int32, then fused as for Q8_0.
/// </para>
/// <para>
/// The integer block dots are exact (see <see cref="QuantGemmKernel"/> for the unsigned×signed workarounds of
/// vpdpbusd and vpmaddubsw); per output and block C = fma(float(dot), dx·dw, C), blocks in order. Every kernel kind
/// performs these same float operations in the same order, so all kinds give bit-identical results, and each C
/// element is computed by one thread in that order whatever the thread count.
/// </para>
/// <para>
/// Blocking: the weight is walked in chunks of 8 rows in <see cref="QuantPacking"/>'s layout (codes unsigned and
/// interleaved for the int8 dot instructions, 4-bit codes still two a byte): read in place when the weight was packed at
/// load (<see cref="PackedWeight"/>), else packed one chunk at a time into a thread's buffer. Every activation row is
/// dotted with the chunk while it sits in L1, 4 activation rows at a time. Threads take disjoint ranges of chunks
/// (columns of C).
/// </para>
/// <para>Edge cases: m = 0 or n = 0 does nothing; k must be a multiple of the weight's block (32; the K-quants: 256).</para>
/// </summary>
public static unsafe class QuantGemm
{
    private const int NW = QuantGemmKernel.NW, MR = QuantGemmKernel.MR;

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
        if (!w.DType.IsQuantized() || !w.IsRowContiguous || w.RowStride % w.DType.BlockValues() != 0)
            throw new NotSupportedException($"the int8 GEMM needs a row-contiguous quantized weight, got {w}");
        if (x.DType != DType.F32 || !x.IsRowContiguous)
            throw new NotSupportedException($"a {w.DType} weight multiplies row-contiguous float32 activations only, got {x}");
        if (k % w.DType.BlockValues() != 0) throw new ArgumentException($"k = {k} is not a multiple of {w.DType.BlockValues()} (a {w.DType} block)");
        if (ldc < n) throw new ArgumentException($"ldc ({ldc}) is smaller than n ({n})", nameof(ldc));
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) for (int i = 0; i < m; i++) new Span<float>(c + i * ldc, n).Clear();
            return;
        }

        // Quantize the activations once: qx [m × k] int8, dx [m × nb] scales, and the per-block terms the weight's format
        // needs: corr (−o·Σqx, Q6_K per half) for the unsigned codes, sx = dx·Σqx for Q4_K/Q5_K's mins.
        DType t = w.DType;
        QuantKernelKind kind = _kind;
        int nb = k / DTypeInfo.QuantBlock;
        int mPad = (m + MR - 1) / MR * MR; // zero rows pad the last tile
        bool withMins = t is DType.Q4_K or DType.Q5_K, halves = t == DType.Q6_K;
        int cs = halves ? 2 * nb : nb, o = QuantGemmKernel.Corrected(kind, t) ? QuantPacking.CodeOffset(t) : 0;
        long floats = 2L * mPad * nb + (long)mPad * cs;
        var act = Scratch.ForThisThread(ref t_act, (long)mPad * k, floats + 2L * nb);
        float* sx = act.D + (long)mPad * nb;
        int* corr = (int*)(act.D + 2L * mPad * nb), hs = (int*)(act.D + floats);
        new Span<float>(act.D, (int)floats).Clear(); // the padding rows' scales, sums and corrections
        for (int i = 0; i < m; i++)
        {
            float* d = act.D + (long)i * nb;
            QuantizeActivations((float*)x.At(i, 0), k, act.Q + (long)i * k, d, hs, kind != QuantKernelKind.Portable);
            for (int b = 0; b < nb; b++)
            {
                int s = hs[2 * b] + hs[2 * b + 1];
                if (withMins) sx[(long)i * nb + b] = d[b] * s;
                if (halves) { corr[(long)i * cs + 2 * b] = -o * hs[2 * b]; corr[(long)i * cs + 2 * b + 1] = -o * hs[2 * b + 1]; }
                else corr[(long)i * cs + b] = -o * s;
            }
        }
        new Span<byte>(act.Q + (long)m * k, (mPad - m) * k).Clear();

        int chunks = (n + NW - 1) / NW;
        int parts = (long)m * n * k < Gemm.ParallelThreshold ? 1 : Math.Min(Parallelism.Threads, (chunks + 1) / 2);
        MatrixView wv = w;
        long chunkBytes = QuantPacking.ChunkBytes(t, nb);
        byte* packed = PackedWeight.FindQuantized(w);
        nint qx = (nint)act.Q, dx = (nint)act.D, sxp = (nint)sx, cp = (nint)c, pk = (nint)packed, cr = (nint)corr;
        void Part(int part)
        {
            // Chunks go in pairs (one tile reads two); a part's range starts on a pair.
            int pairs = (chunks + 1) / 2;
            int q0 = 2 * (int)((long)pairs * part / parts), q1 = Math.Min(chunks, 2 * (int)((long)pairs * (part + 1) / parts));
            bool kScales = withMins && kind != QuantKernelKind.Portable;
            var scratch = Scratch.ForThisThread(ref t_weights, pk == 0 ? 2 * chunkBytes : 0, kScales ? 32L * nb : 0);
            byte* own = scratch.Q;
            float* ks = kScales ? scratch.D : null;
            float* tile = stackalloc float[MR * 2 * NW];
            for (int q = q0; q < q1; q += 2)
            {
                bool two = q + 1 < q1;
                int j0 = q * NW, cols = Math.Min(two ? 2 * NW : NW, n - j0);
                byte* a, b;
                if (pk != 0) { a = (byte*)pk + q * chunkBytes; b = two ? a + chunkBytes : a; }
                else
                {
                    a = own; b = two ? own + chunkBytes : own;
                    QuantPacking.PackChunk(wv, j0, Math.Min(NW, n - j0), nb, a, kind != QuantKernelKind.Portable);
                    if (two) QuantPacking.PackChunk(wv, j0 + NW, Math.Min(NW, n - j0 - NW), nb, b, kind != QuantKernelKind.Portable);
                }
                if (kScales) QuantGemmKernel.KScales(a, b, nb, QuantPacking.CodeBytes(t), ks);
                for (int i0 = 0; i0 < m; i0 += MR)
                {
                    QuantGemmKernel.Tile(kind, t, (sbyte*)qx + (long)i0 * k, (float*)dx + (long)i0 * nb, (int*)cr + (long)i0 * cs,
                        (float*)sxp + (long)i0 * nb, nb, k, a, b, ks, tile);
                    for (int r = 0; r < Math.Min(MR, m - i0); r++)
                    {
                        float* cRow = (float*)cp + (i0 + r) * ldc + j0;
                        float* tRow = tile + r * 2 * NW;
                        for (int j = 0; j < cols; j++) cRow[j] = accumulate ? cRow[j] + tRow[j] : tRow[j];
                    }
                }
            }
        }
        if (parts == 1) Part(0);
        else Parallelism.For(0, parts, Part);
    }

    /// <summary>One activation row to Q8 blocks: dx = max|x|/127, q = round-half-even(x·127/max|x|) (0 for an all-zero block),
    /// and the exact integer sums of each block's halves: halfSums[2b] = Σ_{t&lt;16} q[b,t], halfSums[2b + 1] = Σ_{t≥16} q[b,t].
    /// The vector path (AVX2) gives the same bytes as the scalar one: the same float products, rounded the same way.</summary>
    internal static void QuantizeActivations(float* x, int k, byte* q, float* d, int* halfSums, bool vector)
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
                // |x·127/max|x|| ≤ 127 after rounding, so the saturating packs change nothing and the sums are the bytes'.
                halfSums[2 * b] = Vector256.Sum(Avx2.Add(i0, i1));
                halfSums[2 * b + 1] = Vector256.Sum(Avx2.Add(i2, i3));
                // The packs interleave 128-bit lanes; the permute puts the 32 bytes back in order.
                Vector256<sbyte> p = Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(i0, i1), Avx2.PackSignedSaturate(i2, i3));
                Avx.Store(qb, Avx2.PermuteVar8x32(p.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).AsSByte());
                continue;
            }
            float amaxScalar = 0;
            for (int j = 0; j < 32; j++) amaxScalar = MathF.Max(amaxScalar, MathF.Abs(xb[j]));
            d[b] = amaxScalar / 127f;
            float inv = amaxScalar != 0 ? 127f / amaxScalar : 0f;
            int lo = 0, hi = 0;
            for (int j = 0; j < 32; j++)
            {
                qb[j] = (sbyte)MathF.Round(xb[j] * inv, MidpointRounding.ToEven);
                if (j < 16) lo += qb[j]; else hi += qb[j];
            }
            halfSums[2 * b] = lo;
            halfSums[2 * b + 1] = hi;
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
