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
/// The integer dot uses the unsigned×signed trick (vpmaddubsw and vpdpbusd multiply u8 by s8):
/// |w| · (x·sign(w)) = x·w, with |w| ≤ 128 and |x| ≤ 127 so no 16-bit pair sum saturates. Each block gives
/// 8 int32 lanes (lane l sums values 4l..4l+3) that are widened and accumulated into 8 float lanes by an FMA with
/// the block's scale dx·dw; the lanes are summed 0..7 at the end. Every kernel kind performs these same float
/// operations in the same order, so all kinds give bit-identical results, and each C element is computed by one
/// thread in that order whatever the thread count.
/// </para>
/// <para>
/// Blocking: the weight is walked in chunks of <see cref="NW"/> rows, unpacked once per chunk to int8 values,
/// their magnitudes and float scales (this is where Q4_0 nibbles become bytes), and then every activation row
/// is dotted with the chunk while it sits in L1. Threads take disjoint ranges of chunks (columns of C).
/// </para>
/// <para>Edge cases: m = 0 or n = 0 does nothing; k must be a multiple of 32 (the weight is whole blocks).</para>
/// </summary>
public static unsafe class QuantGemm
{
    /// <summary>Weight rows per chunk (outputs per activation row per inner pass).</summary>
    private const int NW = 4;

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
        var act = Scratch.ForThisThread(ref t_act, (long)m * k, (long)m * nb);
        for (int i = 0; i < m; i++)
            QuantizeActivations((float*)x.At(i, 0), k, act.Q + (long)i * k, act.D + (long)i * nb);

        int chunks = (n + NW - 1) / NW;
        int parts = (long)m * n * k < Gemm.ParallelThreshold ? 1 : Math.Min(Parallelism.Threads, chunks);
        MatrixView wv = w;
        nint qx = (nint)act.Q, dx = (nint)act.D, cp = (nint)c;
        QuantKernelKind kind = _kind;
        void Part(int t)
        {
            int q0 = (int)((long)chunks * t / parts), q1 = (int)((long)chunks * (t + 1) / parts);
            var wb = Scratch.ForThisThread(ref t_weights, 2L * NW * k, (long)NW * nb);
            for (int q = q0; q < q1; q++)
            {
                int j0 = q * NW, rows = Math.Min(NW, n - j0);
                Unpack(wv, j0, rows, k, (sbyte*)wb.Q, wb.Q + NW * k, wb.D);
                for (int i = 0; i < m; i++)
                {
                    float* cRow = (float*)cp + i * ldc + j0;
                    Dot4(kind, (sbyte*)qx + (long)i * k, (float*)dx + (long)i * nb, nb, (sbyte*)wb.Q, wb.Q + NW * k, wb.D, k, cRow, rows, accumulate);
                }
            }
        }
        if (parts == 1) Part(0);
        else Parallelism.For(0, parts, Part);
    }

    /// <summary>One activation row to Q8 blocks: dx = max|x|/127, q = round-half-even(x·127/max|x|) (0 for an all-zero block).</summary>
    internal static void QuantizeActivations(float* x, int k, byte* q, float* d)
    {
        for (int b = 0; b < k / 32; b++)
        {
            float* xb = x + b * 32;
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(xb[j]));
            d[b] = amax / 127f;
            float id = amax != 0 ? 127f / amax : 0f;
            for (int j = 0; j < 32; j++) ((sbyte*)q)[b * 32 + j] = (sbyte)MathF.Round(xb[j] * id, MidpointRounding.ToEven);
        }
    }

    /// <summary>Rows [j0, j0+rows) of W to int8 values qw [NW × k], magnitudes aw [NW × k] and scales dw [NW × k/32];
    /// rows past <paramref name="rows"/> are zero.</summary>
    private static void Unpack(in MatrixView w, int j0, int rows, int k, sbyte* qw, byte* aw, float* dw)
    {
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
                if (w.DType == DType.Q8_0) Unsafe.CopyBlockUnaligned(o, p + 2, 32);
                else
                    for (int j = 0; j < 16; j++)
                    {
                        o[j] = (sbyte)((p[2 + j] & 0xF) - 8);
                        o[j + 16] = (sbyte)((p[2 + j] >> 4) - 8);
                    }
            }
            for (int t = 0; t < k; t++) aw[r * k + t] = (byte)Math.Abs((int)q[t]);
        }
    }

    /// <summary>c[r] (+)= Σ_b dx[b]·dw[r,b]·dot(qx_b, qw_rb) for r &lt; rows, in the float order described on the class.</summary>
    [SkipLocalsInit]
    private static void Dot4(QuantKernelKind kind, sbyte* qx, float* dx, int nb, sbyte* qw, byte* aw, float* dw, int k, float* c, int rows, bool accumulate)
    {
        float* lanes = stackalloc float[NW * 8];
        if (kind == QuantKernelKind.Portable) DotPortable(qx, dx, nb, qw, dw, k, lanes);
        else DotVector(kind == QuantKernelKind.AvxVnni, qx, dx, nb, qw, aw, dw, k, lanes);
        for (int r = 0; r < rows; r++)
        {
            float* l = lanes + r * 8;
            float s = l[0];
            for (int t = 1; t < 8; t++) s += l[t];
            c[r] = accumulate ? c[r] + s : s;
        }
    }

    private static void DotVector(bool vnni, sbyte* qx, float* dx, int nb, sbyte* qw, byte* aw, float* dw, int k, float* lanes)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<short> ones = Vector256.Create((short)1);
        for (int b = 0; b < nb; b++)
        {
            int o = b * 32;
            Vector256<sbyte> xv = Avx.LoadVector256(qx + o);
            float sx = dx[b];
            a0 = Step(vnni, xv, qw + o, aw + o, sx * dw[b], a0, ones);
            a1 = Step(vnni, xv, qw + k + o, aw + k + o, sx * dw[nb + b], a1, ones);
            a2 = Step(vnni, xv, qw + 2 * k + o, aw + 2 * k + o, sx * dw[2 * nb + b], a2, ones);
            a3 = Step(vnni, xv, qw + 3 * k + o, aw + 3 * k + o, sx * dw[3 * nb + b], a3, ones);
        }
        Avx.Store(lanes, a0); Avx.Store(lanes + 8, a1); Avx.Store(lanes + 16, a2); Avx.Store(lanes + 24, a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step(bool vnni, Vector256<sbyte> xv, sbyte* w, byte* a, float scale, Vector256<float> acc, Vector256<short> ones)
    {
        Vector256<sbyte> sx = Avx2.Sign(xv, Avx.LoadVector256(w)); // x·sign(w)
        Vector256<byte> aw = Avx.LoadVector256(a);                 // |w|
        Vector256<int> dot = vnni
            ? AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, aw, sx)
            : Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(aw, sx), ones);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Vector256.Create(scale), acc);
    }

    private static void DotPortable(sbyte* qx, float* dx, int nb, sbyte* qw, float* dw, int k, float* lanes)
    {
        for (int r = 0; r < NW; r++)
        {
            float* l = lanes + r * 8;
            for (int t = 0; t < 8; t++) l[t] = 0;
            sbyte* w = qw + r * k;
            for (int b = 0; b < nb; b++)
            {
                float scale = dx[b] * dw[r * nb + b];
                for (int t = 0; t < 8; t++)
                {
                    int o = b * 32 + t * 4;
                    int dot = qx[o] * w[o] + qx[o + 1] * w[o + 1] + qx[o + 2] * w[o + 2] + qx[o + 3] * w[o + 3];
                    l[t] = MathF.FusedMultiplyAdd(dot, scale, l[t]);
                }
            }
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
