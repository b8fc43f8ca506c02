using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Dllm.IO;
using Dllm.Tensors;
using Xunit;

namespace Dllm.Tests.IO;

public sealed unsafe class SafeTensorsRoundTripTests
{
    private readonly string _dir = TestPaths.TempDir();

    private static float[] Values(int n, int seed)
    {
        var r = new Random(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(r.NextDouble() * 8 - 4);
        if (n > 3) { v[0] = 0f; v[1] = -0f; v[2] = 1e-30f; v[3] = 65504f; }
        return v;
    }

    [Fact]
    public void F32_RoundTripsExactBits()
    {
        float[] v = Values(6, 1);
        v[5] = float.NaN;
        string p = Path.Combine(_dir, "f32.safetensors");
        SafeTensorsWriter.Write(p, [SafeTensorsWriter.Entry.FromSingle("w", [2, 3], v, DType.F32)]);
        using var f = SafeTensorsFile.Open(p);
        TensorInfo t = f.Get("w");
        Assert.Equal(DType.F32, t.DType);
        Assert.Equal([2L, 3L], t.Shape);
        Assert.Equal(24, t.ByteLength);
        float[] back = f.ReadSingle("w");
        for (int i = 0; i < v.Length; i++)
            Assert.Equal(BitConverter.SingleToUInt32Bits(v[i]), BitConverter.SingleToUInt32Bits(back[i]));
    }

    [Fact]
    public void Bf16_StoresRoundToNearestEvenBitsAndWidensExactly()
    {
        float[] v = Values(64, 2);
        v[4] = BitConverter.UInt32BitsToSingle(0x3F808000); // exact tie: rounds to even 0x3F80
        v[5] = BitConverter.UInt32BitsToSingle(0x3F818000); // exact tie: rounds up to even 0x3F82
        string p = Path.Combine(_dir, "bf16.safetensors");
        SafeTensorsWriter.Write(p, [SafeTensorsWriter.Entry.FromSingle("w", [64], v, DType.BF16)]);
        using var f = SafeTensorsFile.Open(p);
        Assert.Equal(128, f.Get("w").ByteLength); // 2 bytes per element on disk and in the mapping
        var stored = new ReadOnlySpan<ushort>((void*)f.GetPointer("w"), 64);
        for (int i = 0; i < v.Length; i++) Assert.Equal(Widen.SingleToBf16(v[i]), stored[i]);
        Assert.Equal(0x3F80, stored[4]);
        Assert.Equal(0x3F82, stored[5]);
        float[] back = f.ReadSingle("w");
        for (int i = 0; i < v.Length; i++) Assert.Equal(Widen.Bf16ToSingle(stored[i]), back[i]);
    }

    [Fact]
    public void F16_StoresHalfBitsAndWidensExactly()
    {
        float[] v = Values(10, 3);
        v[9] = 1e6f; // beyond the F16 range: infinity
        string p = Path.Combine(_dir, "f16.safetensors");
        SafeTensorsWriter.Write(p, [SafeTensorsWriter.Entry.FromSingle("w", [10], v, DType.F16)]);
        using var f = SafeTensorsFile.Open(p);
        var stored = new ReadOnlySpan<Half>((void*)f.GetPointer("w"), 10);
        for (int i = 0; i < v.Length; i++) Assert.Equal(BitConverter.HalfToUInt16Bits((Half)v[i]), BitConverter.HalfToUInt16Bits(stored[i]));
        float[] back = f.ReadSingle("w");
        for (int i = 0; i < v.Length; i++) Assert.Equal((float)(Half)v[i], back[i]);
        Assert.True(float.IsPositiveInfinity(back[9]));
    }

    [Fact]
    public void ShapesOneDThreeDAndZeroElements()
    {
        string p = Path.Combine(_dir, "shapes.safetensors");
        SafeTensorsWriter.Write(p,
        [
            SafeTensorsWriter.Entry.FromSingle("vec", [5], Values(5, 4), DType.F32),
            SafeTensorsWriter.Entry.FromSingle("cube", [2, 3, 4], Values(24, 5), DType.BF16),
            SafeTensorsWriter.Entry.FromSingle("empty", [0, 7], [], DType.F16),
            SafeTensorsWriter.Entry.FromSingle("scalar", [], [3.5f], DType.F32),
        ]);
        using var f = SafeTensorsFile.Open(p);
        Assert.Equal(4, f.Tensors.Count);
        Assert.Equal([2L, 3L, 4L], f.Get("cube").Shape);
        Assert.Equal(24, f.Get("cube").ElementCount);
        Assert.Equal(0, f.Get("empty").ElementCount);
        Assert.Equal(0, f.Get("empty").ByteLength);
        Assert.Empty(f.ReadSingle("empty"));
        Assert.Equal([3.5f], f.ReadSingle("scalar"));
        Assert.Equal(1, f.Get("scalar").ElementCount);

        MatrixView m = f.GetMatrix("vec");
        Assert.Equal((1, 5), (m.Rows, m.Cols));
        Assert.Equal(Values(5, 4)[3], *(float*)m.At(0, 3));
    }

    [Fact]
    public void GetMatrixIsRowMajorIntoTheMapping()
    {
        float[] v = [1, 2, 3, 4, 5, 6];
        string p = Path.Combine(_dir, "m.safetensors");
        SafeTensorsWriter.Write(p, [SafeTensorsWriter.Entry.FromSingle("m", [2, 3], v, DType.BF16)]);
        using var f = SafeTensorsFile.Open(p);
        MatrixView m = f.GetMatrix("m");
        Assert.Equal(DType.BF16, m.DType);
        Assert.Equal((2, 3, 3L, 1L), (m.Rows, m.Cols, m.RowStride, m.ColStride));
        Assert.Equal(f.GetPointer("m"), m.Data);
        Assert.Equal(6f, Widen.Bf16ToSingle(*(ushort*)m.At(1, 2)));
        Assert.Equal(4f, Widen.Bf16ToSingle(*(ushort*)m.T.At(0, 1)));
    }

    [Fact]
    public void MetadataRoundTrips()
    {
        string p = Path.Combine(_dir, "meta.safetensors");
        var md = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "héllo \"quoted\"" };
        SafeTensorsWriter.Write(p, [SafeTensorsWriter.Entry.FromSingle("w", [1], [1f], DType.F32)], md);
        using var f = SafeTensorsFile.Open(p);
        Assert.Equal(md, f.Metadata);
        Assert.Single(f.Tensors);
    }

    [Fact]
    public void LayoutIsSortedAlignedAndContiguous()
    {
        string p = Path.Combine(_dir, "layout.safetensors");
        SafeTensorsWriter.Write(p,
        [
            SafeTensorsWriter.Entry.FromSingle("b", [3], [1, 2, 3], DType.BF16),
            SafeTensorsWriter.Entry.FromSingle("a", [1], [9], DType.F32),
            SafeTensorsWriter.Entry.FromSingle("c", [2], [7, 8], DType.F16),
        ]);
        byte[] bytes = File.ReadAllBytes(p);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.True(header.IndexOf("\"a\"") < header.IndexOf("\"b\"") && header.IndexOf("\"b\"") < header.IndexOf("\"c\""));
        Assert.EndsWith("}", header.TrimEnd(' '));
        using var f = SafeTensorsFile.Open(p);
        long dataStart = 8 + (long)n;
        Assert.Equal(dataStart, f.Get("a").DataOffset);
        Assert.Equal(dataStart + 4, f.Get("b").DataOffset);
        Assert.Equal(dataStart + 10, f.Get("c").DataOffset);
        Assert.Equal(bytes.Length, dataStart + 14);
        Assert.False(File.Exists(p + ".tmp"));
    }

    [Fact]
    public void WriteOverwritesAtomicallyWhileOldVersionIsMapped()
    {
        string p = Path.Combine(_dir, "w.safetensors");
        SafeTensorsWriter.Write(p, [SafeTensorsWriter.Entry.FromSingle("w", [2], [1, 2], DType.F32)]);
        using var old = SafeTensorsFile.Open(p);
        SafeTensorsWriter.Write(p, [SafeTensorsWriter.Entry.FromSingle("w", [2], [3, 4], DType.F32)]);
        Assert.Equal([1f, 2f], old.ReadSingle("w")); // the mapping keeps the old inode (Unix)
        using var fresh = SafeTensorsFile.Open(p);
        Assert.Equal([3f, 4f], fresh.ReadSingle("w"));
    }

    [Fact]
    public void DeferredEntriesAreMadeInNameOrderAndAWrongLengthWritesNothing()
    {
        float[] a = Values(6, 3), b = Values(4, 4);
        var order = new List<string>();
        string p = Path.Combine(_dir, "deferred.safetensors");
        SafeTensorsWriter.Entry Lazy(string name, float[] v) => SafeTensorsWriter.Entry.Deferred(name, DType.F32, [v.Length], () =>
        {
            order.Add(name);
            return MemoryMarshal.AsBytes(v.AsSpan()).ToArray();
        });
        SafeTensorsWriter.Write(p, [Lazy("z", a), SafeTensorsWriter.Entry.FromSingle("m", [4], b), Lazy("a", b)]);
        Assert.Equal(["a", "z"], order);
        using (var f = SafeTensorsFile.Open(p))
        {
            Assert.Equal(a, f.ReadSingle("z"));
            Assert.Equal(b, f.ReadSingle("a"));
            Assert.Equal(b, f.ReadSingle("m"));
        }
        string q = Path.Combine(_dir, "short.safetensors");
        var e = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(q, [SafeTensorsWriter.Entry.Deferred("w", DType.F32, [3], () => new byte[8])]));
        Assert.Contains("needs 12 bytes but 8 were produced", e.Message);
        Assert.False(File.Exists(q));
        Assert.False(File.Exists(q + ".tmp"));
    }

    [Fact]
    public void WriterRejectsBadEntriesAndWritesNothing()
    {
        string p = Path.Combine(_dir, "bad.safetensors");
        var ex = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(p,
            [new SafeTensorsWriter.Entry("w", DType.BF16, [2, 3], new byte[10])]));
        Assert.Contains("tensor 'w': shape [2, 3] of BF16 needs 12 bytes but 10 were given", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(p,
        [
            SafeTensorsWriter.Entry.FromSingle("w", [1], [1], DType.F32),
            SafeTensorsWriter.Entry.FromSingle("w", [1], [2], DType.F32),
        ]));
        Assert.Contains("tensor 'w' given twice", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(p,
            [new SafeTensorsWriter.Entry("w", DType.F32, [-1], ReadOnlyMemory<byte>.Empty)]));
        Assert.Contains("negative dimension -1", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Entry.FromSingle("w", [2, 2], [1, 2, 3], DType.F32));
        Assert.Contains("shape [2, 2] has 4 elements but 3 values were given", ex.Message);

        Assert.False(File.Exists(p));
        Assert.False(File.Exists(p + ".tmp"));
    }

    [Fact]
    public void MapsInsteadOfCopying()
    {
        // 2 tensors of 4 MiB each: both pointers lie in one contiguous mapping at exactly their file
        // offsets apart, and the data read through them is the file's.
        const int n = 2 * 1024 * 1024;
        var a = new float[n];
        var b = new float[n];
        for (int i = 0; i < n; i++) { a[i] = i; b[i] = -i; }
        string p = Path.Combine(_dir, "big.safetensors");
        SafeTensorsWriter.Write(p,
        [
            SafeTensorsWriter.Entry.FromSingle("a", [n], a, DType.BF16),
            SafeTensorsWriter.Entry.FromSingle("b", [n], b, DType.BF16),
        ]);
        using var f = SafeTensorsFile.Open(p);
        TensorInfo ta = f.Get("a"), tb = f.Get("b");
        Assert.Equal(tb.DataOffset - ta.DataOffset, (long)(f.GetPointer("b") - f.GetPointer("a")));
        Assert.Equal(f.Length, new FileInfo(p).Length);
        Assert.Equal(Widen.SingleToBf16(-12345f), ((ushort*)f.GetPointer("b"))[12345]);
        byte[] fileBytes = File.ReadAllBytes(p);
        Assert.True(new ReadOnlySpan<byte>((void*)(f.GetPointer("a") - (nint)ta.DataOffset), fileBytes.Length).SequenceEqual(fileBytes));
    }

    [Fact]
    public void DisposeIsIdempotentAndLookupsAfterDisposeThrow()
    {
        string p = Path.Combine(_dir, "d.safetensors");
        SafeTensorsWriter.Write(p, [SafeTensorsWriter.Entry.FromSingle("w", [1], [1], DType.F32)]);
        var f = SafeTensorsFile.Open(p);
        f.Dispose();
        f.Dispose();
        Assert.Throws<ObjectDisposedException>(() => f.GetPointer("w"));
    }
}
