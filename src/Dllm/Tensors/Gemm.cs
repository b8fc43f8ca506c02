using System.Runtime.InteropServices;

namespace Dllm.Tensors;

/// <summary>
/// General matrix multiply: C[m×n] (+)= A[m×k] · B[k×n], where A and B are strided views of any
/// <see cref="DType"/> (weights stay in their stored type and are widened while packing) and C is
/// row-major float32 with leading dimension ldc. Linear layers call it with B = Wᵀ
/// (<see cref="MatrixView.T"/> of an (out × in) weight).
/// <para>
/// Algorithm (Goto / BLIS): loop over NC-column blocks of B and KC-deep slices of k; pack the KC×NC
/// block of B (widened to f32) into NR-wide panels; loop over MC-row blocks of A and pack each into
/// MR-high panels; then sweep the MR×NR <see cref="GemmMicroKernel"/> (AVX-512 12×32, AVX2 6×16,
/// or portable) over the block. KC = 256 keeps a B micro-panel (KC·NR·4 = 16 KiB for AVX2, 32 KiB
/// for AVX-512) in L1, a packed A block (MC·KC·4 = 144 KiB) in L2 (Zen 3: 512 KiB/core), and a
/// packed B block (KC·NC·4 = 4 MiB) in L3. Nearby values (KC 128–256, MC 96–240) measured within
/// noise of each other on the benchmark machine.
/// </para>
/// <para>
/// Threading: <see cref="Parallelism.Threads"/> workers each take a disjoint slice of C's columns
/// (or rows, when C is taller than wide) and run the serial algorithm on it with their own packing
/// buffers, so no synchronisation is needed inside. Every element of C is summed in the same order
/// whatever the split, so results are bit-identical for any thread count. Problems under ~2·10⁶ multiply-adds run on
/// the calling thread only, since waking a worker costs more than it saves.
/// </para>
/// <para>A block-quantized B (Q8_0, Q4_0, Q5_0 or a K-quant) must be the transpose of a row-contiguous weight and goes to
/// <see cref="QuantGemm"/> (int8 dot products, llama.cpp's numerics, not the exact f32 path); a quantized A is refused.</para>
/// <para>Edge cases: m = 0 or n = 0 does nothing; k = 0 zeroes C (or leaves it, when accumulating).
/// C must not overlap A or B. Strides may be anything, including 0 and negative, as long as every
/// addressed element is valid memory — the views cannot be bounds-checked here.</para>
/// </summary>
public static unsafe class Gemm
{
    internal const int KC = 256;
    internal const int MC = 144;
    internal const int NC = 4096;
    /// <summary>Below this many multiply-adds the work stays on one thread.</summary>
    internal const long ParallelThreshold = 2_000_000;

    /// <summary>C = A·B (accumulate = false) or C += A·B (accumulate = true).</summary>
    /// <exception cref="ArgumentException">Inner dimensions differ, ldc &lt; n, or C is null while m·n &gt; 0.</exception>
    public static void Multiply(in MatrixView a, in MatrixView b, float* c, int ldc, bool accumulate = false)
    {
        if (a.Cols != b.Rows) throw new ArgumentException($"inner dimensions differ: A is {a.Rows}x{a.Cols}, B is {b.Rows}x{b.Cols}");
        if (a.DType.IsQuantized()) throw new NotSupportedException($"a {a.DType} matrix can only be the weight of a linear layer (B = Wᵀ), not A ({a})");
        if (b.DType.IsQuantized())
        {
            // B = Wᵀ of a quantized (n × k) weight: the int8 path (activations quantized per block, as llama.cpp).
            QuantGemm.Multiply(a, b.T, c, ldc, accumulate);
            return;
        }
        _ = a.DType.SizeOf(); _ = b.DType.SizeOf(); // throws on an undefined dtype value
        int m = a.Rows, n = b.Cols, k = a.Cols;
        if (m == 0 || n == 0) return;
        if (c == null) throw new ArgumentException("C is null", nameof(c));
        if (ldc < n) throw new ArgumentException($"ldc ({ldc}) is smaller than n ({n})", nameof(ldc));
        if (a.Data == 0 && k > 0) throw new ArgumentException("A has no data", nameof(a));
        if (b.Data == 0 && k > 0) throw new ArgumentException("B has no data", nameof(b));
        if (k == 0)
        {
            if (!accumulate)
                for (int i = 0; i < m; i++) new Span<float>(c + (long)i * ldc, n).Clear();
            return;
        }

        var kind = GemmMicroKernel.Kind;
        var (MR, NR) = GemmMicroKernel.Shape(kind);
        int threads = Parallelism.Threads;
        if ((long)m * n * k < ParallelThreshold) threads = 1;
        int nPanels = (n + NR - 1) / NR, mPanels = (m + MR - 1) / MR;
        // Each worker packs its own copy of the operand it does not split: splitting columns repacks
        // all of A (m·k) per worker, splitting rows all of B (k·n). So split the longer side of C,
        // which duplicates the smaller operand (inference, m ≈ 160 ≪ n: columns; training, m = batch·len
        // ≫ n: rows), unless that side has too few panels to go round.
        PackedWeight? packed = PackedWeight.Find(b, NR); // B = Wᵀ of a weight packed at load: no per-call packing
        bool splitN = n >= m ? nPanels >= threads || nPanels >= mPanels : mPanels < threads && nPanels > mPanels;
        int parts = Math.Min(threads, splitN ? nPanels : mPanels);
        if (parts <= 1)
        {
            Serial(a, b, c, ldc, accumulate, kind, packed, 0);
            return;
        }

        MatrixView av = a, bv = b;
        nint cp = (nint)c;
        int totalPanels = splitN ? nPanels : mPanels;
        Parallelism.For(0, parts, t =>
        {
            // Even split in whole panels so only the last slice has an edge tile.
            int q0 = (int)((long)totalPanels * t / parts), q1 = (int)((long)totalPanels * (t + 1) / parts);
            if (splitN)
            {
                int j0 = q0 * NR, j1 = Math.Min(n, q1 * NR);
                MatrixView bs = bv.T.SliceRows(j0, j1 - j0).T;
                Serial(av, bs, (float*)cp + j0, ldc, accumulate, kind, packed, j0);
            }
            else
            {
                int i0 = q0 * MR, i1 = Math.Min(m, q1 * MR);
                Serial(av.SliceRows(i0, i1 - i0), bv, (float*)cp + (long)i0 * ldc, ldc, accumulate, kind, packed, 0);
            }
        });
    }

    /// <summary>
    /// C (+)= A·B on the calling thread only, for callers that already run one task per core
    /// (attention heads). Same contract as <see cref="Multiply"/>; A and B must be non-empty.
    /// </summary>
    internal static void MultiplySerial(in MatrixView a, in MatrixView b, float* c, int ldc, bool accumulate = false)
    {
        if (a.Cols != b.Rows) throw new ArgumentException($"inner dimensions differ: A is {a.Rows}x{a.Cols}, B is {b.Rows}x{b.Cols}");
        if (ldc < b.Cols) throw new ArgumentException($"ldc ({ldc}) is smaller than n ({b.Cols})", nameof(ldc));
        if (a.Rows == 0 || b.Cols == 0 || a.Cols == 0) { Multiply(a, b, c, ldc, accumulate); return; }
        Serial(a, b, c, ldc, accumulate, GemmMicroKernel.Kind);
    }

    /// <summary>y[m×n] = x[m×k] · Wᵀ for a weight W of shape (n × k) in any dtype (a linear layer without bias).</summary>
    /// <exception cref="ArgumentException">x or y is too short for the shapes, or m is negative.</exception>
    public static void LinearForward(ReadOnlySpan<float> x, int m, in MatrixView w, Span<float> y, bool accumulate = false)
    {
        int k = w.Cols, n = w.Rows;
        if (m < 0) throw new ArgumentException($"m is negative ({m})", nameof(m));
        if (x.Length < (long)m * k) throw new ArgumentException($"x has {x.Length} elements, need {m}x{k}", nameof(x));
        if (y.Length < (long)m * n) throw new ArgumentException($"y has {y.Length} elements, need {m}x{n}", nameof(y));
        if (m == 0 || n == 0) return;
        fixed (float* px = x) fixed (float* py = y)
        {
            var a = MatrixView.RowMajor((nint)px, DType.F32, m, k);
            Multiply(a, w.T, py, n, accumulate);
        }
    }

    /// <summary>Splits <paramref name="total"/> into ⌈total/max⌉ near-equal blocks, rounded up to a multiple of <paramref name="align"/>.</summary>
    private static int BlockSize(int total, int max, int align)
    {
        int blocks = (total + max - 1) / max;
        int size = (total + blocks - 1) / blocks;
        return (size + align - 1) / align * align;
    }

    /// <summary>The k-block depth used for a depth of k (also the blocking a <see cref="PackedWeight"/> is laid out in).</summary>
    internal static int KBlock(int k) => BlockSize(k, KC, 1);

    /// <summary>The single-threaded blocked algorithm on the calling thread's buffers. With
    /// <paramref name="packed"/> (B = columns [packedCol, packedCol + n) of a packed weight's Wᵀ,
    /// packedCol a multiple of NR), B's blocks come from it instead of being packed here.</summary>
    private static void Serial(in MatrixView a, in MatrixView b, float* c, long ldc, bool accumulate, GemmKernelKind kind,
        PackedWeight? packed = null, int packedCol = 0)
    {
        var (MR, NR) = GemmMicroKernel.Shape(kind);
        int m = a.Rows, n = b.Cols, k = a.Cols;
        // Balanced block sizes: k = 300 becomes 2×150 rather than 256 + 44, which would waste a
        // whole pass over C on a thin slice.
        int kcMax = KBlock(k);
        int mcMax = BlockSize(m, MC, MR);
        int ncMax = BlockSize(n, NC, NR);
        var buf = Buffers.ForThisThread(GemmPacking.ASize(mcMax, kcMax, MR) + GemmPacking.ASlack, GemmPacking.BSize(kcMax, ncMax, NR), (long)NR * kcMax);

        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n - jc);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                bool acc = accumulate || pc > 0; // later k slices add onto the first one's result
                float* pbBlock = buf.B;
                if (packed is null) GemmPacking.PackB(b, pc, kc, jc, nc, buf.B, buf.Scratch, NR);
                else if (b.DType == DType.F32) pbBlock = (float*)packed.Block(pc, kc, packedCol + jc); // read in place
                else
                {
                    int count = (nc + NR - 1) / NR * NR * kc; // whole panels; padding columns are packed zeros
                    Widen.Bf16ToSingle(new ReadOnlySpan<ushort>(packed.Block(pc, kc, packedCol + jc), count), new Span<float>(buf.B, count));
                }
                for (int ic = 0; ic < m; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, m - ic);
                    GemmPacking.PackA(a, ic, mc, pc, kc, buf.A, MR);
                    // jr outside ir: one B micro-panel stays in L1 while the A block streams from L2.
                    for (int jr = 0; jr < nc; jr += NR)
                    {
                        int nr = Math.Min(NR, nc - jr);
                        float* pb = pbBlock + (long)jr * kc;
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mr = Math.Min(MR, mc - ir);
                            float* cTile = c + (ic + ir) * ldc + jc + jr;
                            GemmMicroKernel.Tile(kind, kc, buf.A + (long)ir * kc, pb, cTile, ldc, mr, nr, acc);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Per-thread packing buffers, 64-byte aligned native memory that grows on demand and is reused
    /// across calls (no GC churn, no page faults on the hot path after the first call). Freed by the
    /// finalizer when the owning thread dies.
    /// </summary>
    private sealed class Buffers
    {
        [ThreadStatic] private static Buffers? t_current;

        public float* A, B, Scratch;
        private long _aCap, _bCap, _sCap;

        public static Buffers ForThisThread(long aFloats, long bFloats, long scratchFloats)
        {
            var b = t_current ??= new Buffers();
            Ensure(ref b.A, ref b._aCap, aFloats);
            Ensure(ref b.B, ref b._bCap, bFloats);
            Ensure(ref b.Scratch, ref b._sCap, scratchFloats);
            return b;
        }

        private static void Ensure(ref float* p, ref long cap, long need)
        {
            if (need <= cap) return;
            if (p != null) NativeMemory.AlignedFree(p);
            p = null; cap = 0;
            p = (float*)NativeMemory.AlignedAlloc((nuint)(need * sizeof(float)), 64);
            cap = need;
        }

        ~Buffers()
        {
            if (A != null) NativeMemory.AlignedFree(A);
            if (B != null) NativeMemory.AlignedFree(B);
            if (Scratch != null) NativeMemory.AlignedFree(Scratch);
        }
    }
}
