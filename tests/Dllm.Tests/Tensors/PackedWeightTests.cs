using System.Runtime.InteropServices;
using Dllm.Model;
using Dllm.Tensors;
using Xunit;

namespace Dllm.Tests.Tensors;

/// <summary>
/// Weights packed once (<see cref="PackedWeight"/>) against the per-call packing path: bit-identical C for
/// f32 and bf16 weights over odd shapes (edge panels, several k-blocks, both thread splits) and every
/// micro-kernel; proof that Gemm really reads the packing (changing W afterwards does not change C until
/// the packing is disposed); and a whole model loaded packed vs unpacked; the same for block-quantized weights. In <see cref="GemmCollection"/>:
/// it sets Threads and the kernel, and registers packings process-wide.
/// </summary>
[Collection(nameof(GemmCollection))]
public sealed unsafe class PackedWeightTests
{
    private static float[] Product(float[] x, int m, in MatrixView w, bool accumulate)
    {
        var y = new float[m * w.Rows];
        for (int i = 0; i < y.Length; i++) y[i] = accumulate ? (i % 7) * 0.25f : 0f;
        Gemm.LinearForward(x, m, w, y, accumulate);
        return y;
    }

    [Theory]
    [InlineData(DType.F32, 160, 1000, 300, false)]
    [InlineData(DType.BF16, 160, 1000, 300, true)]
    [InlineData(DType.F32, 32, 77, 513, true)]
    [InlineData(DType.BF16, 32, 77, 513, false)]
    [InlineData(DType.BF16, 500, 40, 64, false)] // m ≫ n: the row split, each part reading the whole packing
    [InlineData(DType.F32, 1, 33, 5, false)]
    public void PackedMatchesUnpackedBitForBit(DType type, int m, int n, int k, bool accumulate)
    {
        var rng = new Random(m * 31 + n + k);
        float[] x = [.. Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        int size = type.SizeOf();
        byte[] wBytes = new byte[n * k * size];
        for (int i = 0; i < n * k; i++)
        {
            float v = (float)(rng.NextDouble() * 2 - 1);
            if (type == DType.F32) MemoryMarshal.Write(wBytes.AsSpan(i * 4), v);
            else MemoryMarshal.Write(wBytes.AsSpan(i * 2), Widen.SingleToBf16(v));
        }
        int oldThreads = Parallelism.Threads;
        var oldKind = GemmMicroKernel.Kind;
        try
        {
            fixed (byte* pw = wBytes)
            {
                var w = MatrixView.RowMajor((nint)pw, type, n, k);
                foreach (var kind in new[] { GemmKernelKind.Avx512, GemmKernelKind.Avx2, GemmKernelKind.Portable }.Where(q => q <= GemmMicroKernel.Best))
                    foreach (int threads in new[] { 1, 2, 3 })
                    {
                        GemmMicroKernel.Kind = kind;
                        Parallelism.Threads = threads;
                        float[] want = Product(x, m, w, accumulate);
                        float[] got;
                        byte[] original = [.. wBytes];
                        using (PackedWeight p = PackedWeight.TryPack(w)!)
                        {
                            p.Register();
                            got = Product(x, m, w, accumulate);
                            // Gemm reads the packing, not W: zeroing W does not change the product while it is registered.
                            Array.Clear(wBytes);
                            Assert.Equal(want, Product(x, m, w, accumulate));
                            original.CopyTo(wBytes, 0);
                        }
                        Assert.Equal(want, got);
                        // Disposed: unregistered, so W itself is read again.
                        Array.Clear(wBytes, 0, size * k);
                        Assert.NotEqual(want, Product(x, m, w, accumulate));
                        original.CopyTo(wBytes, 0);
                        Assert.Equal(want, Product(x, m, w, accumulate));
                    }
            }
        }
        finally { Parallelism.Threads = oldThreads; GemmMicroKernel.Kind = oldKind; }
    }

    [Fact]
    public void APackingForAnotherKernelShapeIsIgnored()
    {
        if (GemmMicroKernel.Best != GemmKernelKind.Avx512) return; // only AVX-512 has another NR (32 vs 16)
        var oldKind = GemmMicroKernel.Kind;
        float[] wv = [.. Enumerable.Range(0, 48 * 20).Select(i => (float)Math.Sin(i))];
        float[] x = [.. Enumerable.Range(0, 7 * 20).Select(i => (float)Math.Cos(i))];
        try
        {
            fixed (float* pw = wv)
            {
                var w = MatrixView.RowMajor((nint)pw, DType.F32, 48, 20);
                GemmMicroKernel.Kind = GemmKernelKind.Avx512;
                using PackedWeight p = PackedWeight.TryPack(w)!;
                p.Register();
                GemmMicroKernel.Kind = GemmKernelKind.Avx2;
                float[] got = Product(x, 7, w, false);
                for (int i = 0; i < 7; i++)
                    for (int j = 0; j < 48; j++)
                    {
                        double s = 0;
                        for (int q = 0; q < 20; q++) s += (double)x[i * 20 + q] * wv[j * 20 + q];
                        Assert.Equal(s, got[i * 48 + j], 1e-4);
                    }
            }
        }
        finally { GemmMicroKernel.Kind = oldKind; }
    }

    /// <summary>Logits of a 40-token canvas of the model in <paramref name="dir"/>, loaded packed or not.</summary>
    private static float[] LogitsOf(string dir, bool pack)
    {
        Transformer.PackWeightsAtLoad = pack;
        try
        {
            using Transformer model = Transformer.Load(dir);
            int len = 40;
            int[] tokens = [.. Enumerable.Range(0, len).Select(i => i < 10 ? (i * 7) % 60 : model.Config.MaskTokenId)];
            var logits = new float[len * model.VocabSize];
            model.Logits(tokens, 1, len, [.. Enumerable.Range(0, len)], logits);
            return logits;
        }
        finally { Transformer.PackWeightsAtLoad = true; }
    }

    [Fact]
    public void AModelLoadedPackedGivesTheSameLogitsAsUnpacked()
    {
        string dir = Dllm.Tests.IO.CheckpointQuantizerTests.BundledMdm();
        Assert.Equal(LogitsOf(dir, false), LogitsOf(dir, true));
    }

    /// <summary>A block-quantized weight packed once into the int8 kernels' chunks against the per-call packing: bit for bit
    /// for every format, int8 kernel kind and thread count, over n with a partial last chunk and an odd chunk count (the
    /// paired tile's lone chunk), m not a multiple of the tile; zeroing W while registered changes nothing.</summary>
    [Theory]
    [InlineData(DType.Q8_0, 9, 41, 96)]
    [InlineData(DType.Q4_0, 32, 24, 160)]
    [InlineData(DType.Q5_0, 5, 17, 64)]
    [InlineData(DType.Q4_K, 33, 40, 512)]
    [InlineData(DType.Q5_K, 7, 8, 256)]
    [InlineData(DType.Q6_K, 13, 57, 256)]
    public void QuantizedPackedMatchesUnpackedBitForBit(DType type, int m, int n, int k)
    {
        var rng = new Random(m * 31 + n + k);
        float[] x = [.. Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        byte[] wBytes = QuantBlocks.Quantize([.. Enumerable.Range(0, n * k).Select(_ => (float)(rng.NextDouble() * 2 - 1))], type);
        int oldThreads = Parallelism.Threads;
        var oldKind = QuantGemm.Kind;
        try
        {
            fixed (byte* pw = wBytes)
            {
                var w = MatrixView.RowMajor((nint)pw, type, n, k);
                foreach (var kind in Enum.GetValues<QuantKernelKind>().Where(q => q <= QuantGemm.Best))
                    foreach (int threads in new[] { 1, 2, 3 })
                    {
                        QuantGemm.Kind = kind;
                        Parallelism.Threads = threads;
                        float[] want = Product(x, m, w, accumulate: false);
                        byte[] original = [.. wBytes];
                        using (PackedWeight p = PackedWeight.TryPack(w)!)
                        {
                            p.Register();
                            Array.Clear(wBytes);
                            Assert.Equal(want, Product(x, m, w, accumulate: false));
                            original.CopyTo(wBytes, 0);
                        }
                        Array.Clear(wBytes);
                        Assert.NotEqual(want, Product(x, m, w, accumulate: false)); // unregistered: W itself again
                        original.CopyTo(wBytes, 0);
                    }
            }
        }
        finally { Parallelism.Threads = oldThreads; QuantGemm.Kind = oldKind; }
    }

    [Fact]
    public void AQuantizedModelLoadedPackedGivesTheSameLogitsAsUnpacked()
    {
        string dir = Dllm.Tests.IO.CheckpointQuantizerTests.BundledMdm();
        string q = Path.Combine(Path.GetTempPath(), "dllm-packed-q4k-" + Guid.NewGuid().ToString("N"));
        try
        {
            Dllm.IO.CheckpointQuantizer.Quantize(dir, DType.Q4_K, q);
            Assert.Equal(LogitsOf(q, false), LogitsOf(q, true));
        }
        finally { if (Directory.Exists(q)) Directory.Delete(q, recursive: true); }
    }
}
