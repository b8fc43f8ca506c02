using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Dllm.Tensors;

/// <summary>
/// A read-only linear-layer weight W (n × k, row-major, f32 or bf16) packed once, in its stored
/// precision, into the NR-column panels <see cref="GemmPacking.PackB"/> builds for B = Wᵀ on every call.
/// <see cref="Gemm"/> finds it by W's address (<see cref="Register"/>) and then skips the per-call
/// transpose: an f32 panel block is read by the micro-kernel in place, a bf16 one is widened by one
/// contiguous pass (exact) into the caller's buffer. Results are bit-identical to the unpacked path:
/// the same values reach the same kernel in the same k-blocks.
/// <para>Layout: for each k-block [pc, pc + kc) of <see cref="Gemm"/>'s blocking (kcMax depends on k
/// only), the panels of all ⌈n/NR⌉·NR columns (padding columns are zero) at element offset nPad·pc;
/// panel q of a block starts q·NR·kc further on. So any column slice that starts on a panel boundary
/// (Gemm's thread split and NC blocks do) is one contiguous run per k-block.</para>
/// <para>Only for weights that never change while registered (a memory-mapped checkpoint): a trainer's
/// parameters are never packed, so an optimiser step is always seen. A packing made for another
/// micro-kernel shape (the kernel was switched after packing) is ignored, not misread.</para>
/// <para>A block-quantized W is packed into <see cref="QuantPacking"/>'s chunks instead (one layout for every int8
/// kernel kind, about the stored size: Q8_0 +6 %, Q4_0 +11 %, Q4_K +6 %; the 5- and 6-bit formats take a byte a code),
/// which <see cref="QuantGemm"/> reads in place (<see cref="FindQuantized"/>).</para>
/// </summary>
public sealed unsafe class PackedWeight : IDisposable
{
    private static readonly ConcurrentDictionary<nint, PackedWeight> s_registry = new();
    private static volatile int s_count;

    /// <summary>The weight this was packed from (W, not Wᵀ).</summary>
    public MatrixView Source { get; }
    /// <summary>Panel width it was packed for (<see cref="GemmMicroKernel.Shape"/>'s NR); 0 for a quantized W.</summary>
    internal int NR { get; }
    /// <summary>Columns of B = Wᵀ rounded up to whole panels.</summary>
    internal long NPad { get; }
    private void* _data;

    /// <summary>Bytes held by the packed copy.</summary>
    public long Bytes { get; }

    /// <summary>Columns of B (rows of W) packed per pass: bounds the f32 staging buffer (ColumnChunk·kcMax·4
    /// bytes = 4 MiB) and, with <c>releaseSource</c>, how much of W is resident beside its packed copy.</summary>
    private const int ColumnChunk = 4096;

    private PackedWeight(MatrixView w, int nr, bool releaseSource)
    {
        Source = w; NR = nr;
        int n = w.Rows, k = w.Cols;
        NPad = (n + nr - 1) / nr * (long)nr;
        int size = w.DType.SizeOf();
        Bytes = NPad * k * size;
        _data = Allocate(Math.Max(Bytes, 64));
        int kcMax = Gemm.KBlock(k);
        int chunk = Math.Min(ColumnChunk / nr * nr, (int)NPad);
        float* tmp = (float*)NativeMemory.AlignedAlloc((nuint)((long)chunk * kcMax * sizeof(float)), 64);
        float* scratch = (float*)NativeMemory.AlignedAlloc((nuint)(nr * kcMax * sizeof(float)), 64);
        try
        {
            MatrixView b = w.T;
            // Rows of W outer, k-blocks inner: each chunk of rows is read completely, then (optionally) released.
            for (int j0 = 0; j0 < n; j0 += chunk)
            {
                int nc = Math.Min(chunk, n - j0);
                for (int pc = 0; pc < k; pc += kcMax)
                {
                    int kc = Math.Min(kcMax, k - pc);
                    GemmPacking.PackB(b, pc, kc, j0, nc, tmp, scratch, nr);
                    int count = (nc + nr - 1) / nr * nr * kc;
                    long at = NPad * pc + (long)j0 * kc;
                    if (w.DType == DType.F32)
                        new ReadOnlySpan<float>(tmp, count).CopyTo(new Span<float>((float*)_data + at, count));
                    else
                    {
                        // Widened bf16: the low 16 bits are zero, so keeping the high halves is exact.
                        uint* src = (uint*)tmp;
                        ushort* dst = (ushort*)_data + at;
                        int e = 0;
                        for (; e + 16 <= count; e += 16)
                            Vector256.Narrow(Vector256.ShiftRightLogical(Vector256.Load(src + e), 16), Vector256.ShiftRightLogical(Vector256.Load(src + e + 8), 16)).Store(dst + e);
                        for (; e < count; e++) dst[e] = (ushort)(src[e] >> 16);
                    }
                }
                if (releaseSource) ReleasePages(w.SliceRows(j0, nc));
            }
        }
        finally { NativeMemory.AlignedFree(tmp); NativeMemory.AlignedFree(scratch); }
    }

    private PackedWeight(MatrixView w, bool releaseSource, Func<int, int>? sourceRow)
    {
        Source = w;
        int nb = w.Cols / DTypeInfo.QuantBlock, chunks = (w.Rows + QuantGemmKernel.NW - 1) / QuantGemmKernel.NW;
        long chunkBytes = QuantPacking.ChunkBytes(w.DType, nb);
        Bytes = chunks * chunkBytes;
        _data = Allocate(Bytes);
        byte* dst = (byte*)_data;
        bool vector = Avx2.IsSupported;
        // Rows in passes of ColumnChunk, the chunks of a pass spread over the threads; then the pass's source released.
        int perPass = ColumnChunk / QuantGemmKernel.NW;
        for (int c0 = 0; c0 < chunks; c0 += perPass)
        {
            int c1 = Math.Min(chunks, c0 + perPass), parts = Math.Min(Parallelism.Threads, c1 - c0);
            MatrixView src = w;
            Parallelism.For(0, parts, part =>
            {
                int a = c0 + (int)((long)(c1 - c0) * part / parts), e = c0 + (int)((long)(c1 - c0) * (part + 1) / parts);
                for (int c = a; c < e; c++)
                {
                    int j0 = c * QuantGemmKernel.NW;
                    QuantPacking.PackChunk(src, j0, Math.Min(QuantGemmKernel.NW, src.Rows - j0), nb, dst + c * chunkBytes, vector, sourceRow);
                }
            });
            if (releaseSource && sourceRow == null)
            {
                int j0 = c0 * QuantGemmKernel.NW;
                ReleasePages(w.SliceRows(j0, Math.Min(w.Rows, c1 * QuantGemmKernel.NW) - j0));
            }
        }
        if (releaseSource && sourceRow != null) ReleasePages(w); // rows read out of order: released when all are packed
    }

    /// <summary>Whether <see cref="TryPack"/> would pack W.</summary>
    public static bool CanPack(in MatrixView w) =>
        w.ColStride == 1 && w.Rows > 0 && w.Cols > 0 && w.Data != 0 && (w.DType.IsQuantized()
            ? w.Cols % w.DType.BlockValues() == 0 && w.RowStride % w.DType.BlockValues() == 0
            : w.DType is DType.F32 or DType.BF16);

    /// <summary>Packs W for the current micro-kernel (f32/bf16) or the int8 kernels (a block-quantized W with whole
    /// blocks per row), or returns null when W cannot be packed: another dtype, not row-contiguous (ColStride ≠ 1), or empty.</summary>
    /// <param name="releaseSource">Drop W's pages from the resident set as they are packed (Linux
    /// <c>madvise(MADV_DONTNEED)</c>, whole pages inside W's extent; elsewhere nothing), so the packed copy does
    /// not double a memory-mapped checkpoint's memory. Only for a read-only file mapping: pages read later
    /// (embedding rows of a tied head) come back from the file; on anonymous memory it would zero them.</param>
    /// <param name="sourceRow">A quantized W only: packed row r is W's row sourceRow(r) (a permutation of the rows).</param>
    /// <exception cref="ArgumentException"><paramref name="sourceRow"/> for a W that is not quantized.</exception>
    public static PackedWeight? TryPack(in MatrixView w, bool releaseSource = false, Func<int, int>? sourceRow = null)
    {
        if (sourceRow != null && !w.DType.IsQuantized()) throw new ArgumentException($"a row order is for quantized weights only, got {w}", nameof(sourceRow));
        if (!CanPack(w)) return null;
        if (w.DType.IsQuantized()) return new PackedWeight(w, releaseSource && w.RowStride == w.Cols, sourceRow);
        int nr = GemmMicroKernel.Shape(GemmMicroKernel.Kind).NR;
        return new PackedWeight(w, nr, releaseSource && w.RowStride == w.Cols);
    }

    /// <summary>The packed kc × (columns from j on) block of k-block pc, as an f32 or bf16 address by <see cref="Source"/>'s dtype.</summary>
    internal void* Block(int pc, int kc, int j) => (byte*)_data + (NPad * pc + (long)j * kc) * Source.DType.SizeOf();

    /// <summary>Makes Gemm use this packing whenever B is Wᵀ of exactly <see cref="Source"/> (same address,
    /// shape and strides). A second registration of the same address replaces the first.</summary>
    public void Register()
    {
        ObjectDisposedException.ThrowIf(_data == null, this);
        s_registry[Source.Data] = this;
        s_count = s_registry.Count;
    }

    /// <summary>The registered packing of W when B = Wᵀ is one, for the kernel's NR; else null. Costs a
    /// volatile read when nothing is registered (training).</summary>
    internal static PackedWeight? Find(in MatrixView b, int nr)
    {
        if (s_count == 0 || b.RowStride != 1) return null;
        if (!s_registry.TryGetValue(b.Data, out var p)) return null;
        MatrixView s = p.Source;
        return p.NR == nr && s.DType == b.DType && s.Rows == b.Cols && s.Cols == b.Rows && s.RowStride == b.ColStride ? p : null;
    }

    /// <summary>The registered packing of the quantized weight <paramref name="w"/> (same address, dtype, shape and row
    /// stride), or null.</summary>
    internal static byte* FindQuantized(in MatrixView w)
    {
        if (s_count == 0 || !s_registry.TryGetValue(w.Data, out var p)) return null;
        MatrixView s = p.Source;
        return p.NR == 0 && s.DType == w.DType && s.Rows == w.Rows && s.Cols == w.Cols && s.RowStride == w.RowStride && w.ColStride == 1 ? (byte*)p._data : null;
    }

    /// <summary>Unregisters (if registered) and frees the packed copy. Call only when no GEMM is using it.</summary>
    public void Dispose()
    {
        if (_data == null) return;
        s_registry.TryRemove(new KeyValuePair<nint, PackedWeight>(Source.Data, this));
        s_count = s_registry.Count;
        NativeMemory.AlignedFree(_data);
        _data = null;
    }

    private const long HugePage = 1 << 21;

    /// <summary>A packed copy's memory: from 2 MiB on, 2 MiB-aligned and (Linux) its whole 2 MiB pages advised as
    /// transparent huge pages (the tail, under 2 MiB, stays in small pages, so resident memory is not rounded up), so the
    /// kernel maps it in 2 MiB pages where it can: packing an 8B model then takes far fewer page faults (first touch of a
    /// 19 MB matrix measured 7–9 ms with 4 KiB pages, 1.3–1.6 ms with huge ones), and the GEMMs fewer TLB misses. Freed
    /// with NativeMemory.AlignedFree like any aligned block; madvise failing (THP off) changes nothing else.</summary>
    private static void* Allocate(long bytes)
    {
        if (bytes < HugePage) return NativeMemory.AlignedAlloc((nuint)bytes, 64);
        void* p = NativeMemory.AlignedAlloc((nuint)bytes, (nuint)HugePage);
        if (OperatingSystem.IsLinux()) _ = madvise((nint)p, (nuint)(bytes / HugePage * HugePage), 14 /* MADV_HUGEPAGE */);
        return p;
    }

    private static void ReleasePages(in MatrixView w)
    {
        if (!OperatingSystem.IsLinux()) return;
        long page = Environment.SystemPageSize;
        long start = (long)w.Data, end = start + w.DType.ByteCount((long)w.Rows * w.Cols);
        long a = (start + page - 1) / page * page, e = end / page * page;
        if (e > a) _ = madvise((nint)a, (nuint)(e - a), 4 /* MADV_DONTNEED */);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int madvise(nint addr, nuint length, int advice);
}
