using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using Dllm.Tensors;

namespace Dllm.IO;

/// <summary>
/// Writes safetensors files readable by the Python <c>safetensors</c> library and by
/// <see cref="SafeTensorsFile"/>.
/// </summary>
/// <remarks>
/// The file is written to <c>path + ".tmp"</c>, flushed to disk, then renamed over
/// the destination: a crash leaves either the old file or the complete new one, never a
/// half-written file under the real name. Tensors are laid out contiguously sorted by name
/// (ordinal), and the header is padded with spaces so the data section starts 8-byte aligned.
/// </remarks>
public static class SafeTensorsWriter
{
    /// <summary>One tensor to write. <paramref name="Data"/> holds the little-endian elements,
    /// row-major, exactly product(<paramref name="Shape"/>)·sizeof(<paramref name="DType"/>) bytes (whole blocks for
    /// a quantized dtype) — or, for an entry made by <see cref="Deferred"/>, is empty and <see cref="Produce"/> makes
    /// them when the tensor's turn to be written comes, so a large checkpoint never sits in memory whole.</summary>
    public sealed record Entry(string Name, DType DType, long[] Shape, ReadOnlyMemory<byte> Data)
    {
        /// <summary>Makes the data at write time (null: <see cref="Data"/> is the data).</summary>
        public Func<ReadOnlyMemory<byte>>? Produce { get; init; }

        /// <summary>An entry whose bytes <paramref name="produce"/> makes when it is written (once, in name order).</summary>
        public static Entry Deferred(string name, DType dtype, long[] shape, Func<ReadOnlyMemory<byte>> produce) =>
            new(name, dtype, shape, ReadOnlyMemory<byte>.Empty) { Produce = produce };

        /// <summary>Bytes the tensor occupies in the file.</summary>
        internal long ByteLength => DType.ByteCount(ElementCount(Name, Shape));

        /// <summary>
        /// Builds an entry from float32 values, narrowing to <paramref name="storeAs"/>: F16 via
        /// <see cref="Half"/>'s conversion and BF16 via <see cref="Widen.SingleToBf16(float)"/>, both
        /// round-to-nearest-even (values beyond the F16 range become ±infinity; NaN stays NaN).
        /// </summary>
        /// <exception cref="ArgumentException"><paramref name="data"/> length differs from product(shape).</exception>
        public static Entry FromSingle(string name, long[] shape, float[] data, DType storeAs = DType.F32)
        {
            long n = ElementCount(name, shape);
            if (n != data.Length)
                throw new ArgumentException($"tensor '{name}': shape {TensorInfo.FormatShape(shape)} has {n} elements but {data.Length} values were given", nameof(data));
            byte[] bytes = new byte[checked(data.Length * storeAs.SizeOf())];
            switch (storeAs)
            {
                case DType.F32:
                    MemoryMarshal.AsBytes(data.AsSpan()).CopyTo(bytes);
                    break;
                case DType.F16:
                    Span<Half> h = MemoryMarshal.Cast<byte, Half>(bytes.AsSpan());
                    for (int i = 0; i < data.Length; i++) h[i] = (Half)data[i];
                    break;
                case DType.BF16:
                    Widen.SingleToBf16(data, MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan()));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(storeAs), storeAs, "unknown dtype");
            }
            return new Entry(name, storeAs, (long[])shape.Clone(), bytes);
        }
    }

    /// <summary>Writes <paramref name="tensors"/> (and optional <c>__metadata__</c>) to <paramref name="path"/> atomically.</summary>
    /// <exception cref="ArgumentException">A name is duplicated, empty or <c>__metadata__</c>; a dimension is
    /// negative; or an entry's data length (a deferred entry's, once produced) differs from product(shape)·sizeof(dtype).
    /// Nothing is written then.</exception>
    public static void Write(string path, IEnumerable<Entry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian hosts are not supported");
        Entry[] entries = tensors.OrderBy(e => e.Name, StringComparer.Ordinal).ToArray();
        Validate(entries);
        byte[] header = BuildHeader(entries, metadata);

        string tmp = path + ".tmp";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> prefix = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
                fs.Write(prefix);
                fs.Write(header);
                foreach (Entry e in entries)
                {
                    ReadOnlyMemory<byte> data = e.Produce?.Invoke() ?? e.Data;
                    if (data.Length != e.ByteLength)
                        throw new ArgumentException($"tensor '{e.Name}': shape {TensorInfo.FormatShape(e.Shape)} of {e.DType} needs {e.ByteLength} bytes but {data.Length} were produced");
                    fs.Write(data.Span);
                }
                fs.Flush(flushToDisk: true); // the rename must not become visible before the bytes
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static void Validate(Entry[] entries)
    {
        for (int i = 0; i < entries.Length; i++)
        {
            Entry e = entries[i];
            if (string.IsNullOrEmpty(e.Name)) throw new ArgumentException("tensor name must not be empty");
            if (e.Name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved and cannot name a tensor");
            // Sorted, so duplicates are neighbours.
            if (i > 0 && entries[i - 1].Name == e.Name) throw new ArgumentException($"tensor '{e.Name}' given twice");
            long expected = e.ByteLength;
            if (e.Produce == null && e.Data.Length != expected)
                throw new ArgumentException($"tensor '{e.Name}': shape {TensorInfo.FormatShape(e.Shape)} of {e.DType} needs {expected} bytes but {e.Data.Length} were given");
        }
    }

    private static long ElementCount(string name, long[] shape)
    {
        long n = 1;
        foreach (long d in shape)
        {
            if (d < 0) throw new ArgumentException($"tensor '{name}': negative dimension {d} in shape {TensorInfo.FormatShape(shape)}");
            n = checked(n * d);
        }
        return n;
    }

    /// <summary>The header JSON, padded with spaces to a multiple of 8 bytes (so prefix + header is too).</summary>
    private static byte[] BuildHeader(Entry[] entries, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        // Relaxed escaping keeps non-ASCII names readable; the output is still valid JSON.
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var kv in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(kv.Key, kv.Value);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (Entry e in entries)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DType.SafeTensorsName());
                w.WriteStartArray("shape");
                foreach (long d in e.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + e.ByteLength);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += e.ByteLength;
            }
            w.WriteEndObject();
        }
        int len = (int)ms.Length;
        int padded = (len + 7) & ~7;
        byte[] header = new byte[padded];
        ms.GetBuffer().AsSpan(0, len).CopyTo(header);
        header.AsSpan(len).Fill((byte)' ');
        return header;
    }
}
