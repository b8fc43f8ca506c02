using System.Runtime.InteropServices;
using System.Text;
using Dllm.Tensors;

namespace Dllm.IO;

/// <summary>
/// Writes a GGUF v3 file (the container of ggml / llama.cpp): the header (magic <c>GGUF</c>, version 3,
/// tensor count, metadata count), the typed metadata key/values, the tensor infos, then the tensor data,
/// each tensor aligned to <see cref="Alignment"/> bytes. Every value is little-endian. Tensors are float32
/// or already-encoded F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q5_K or Q6_K data (ggml's block layouts, which <see cref="DType"/> shares).
/// </summary>
/// <remarks>
/// A tensor's GGUF dimensions are listed innermost first: a row-major (rows × cols) matrix is
/// <c>{cols, rows}</c>. <c>AddTensor</c> takes the row-major shape and reverses it.
/// The file is written to <c>path + ".tmp"</c> and renamed over the destination when complete.
/// </remarks>
public sealed class GgufWriter
{
    /// <summary>GGUF's default data alignment (<c>general.alignment</c> absent).</summary>
    public const int Alignment = 32;

    private enum ValueType : uint
    {
        UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
        String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
    }

    /// <summary>ggml's type id of a <see cref="DType"/> (ggml.h <c>enum ggml_type</c>): F32 0, F16 1, Q4_0 2, Q5_0 6, Q8_0 8, Q4_K 12, Q5_K 13, Q6_K 14, BF16 30.</summary>
    public static uint GgmlType(DType t) => t switch
    {
        DType.F32 => 0, DType.F16 => 1, DType.Q4_0 => 2, DType.Q5_0 => 6, DType.Q8_0 => 8, DType.Q4_K => 12, DType.Q5_K => 13, DType.Q6_K => 14, DType.BF16 => 30,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    private readonly List<(string Key, Action<BinaryWriter> Write)> _metadata = [];
    private readonly List<(string Name, ulong[] Dims, DType Type, byte[] Data)> _tensors = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>Metadata keys in the order added.</summary>
    public IEnumerable<string> Keys => _metadata.Select(m => m.Key);

    /// <summary>Tensor names in the order added.</summary>
    public IEnumerable<string> TensorNames => _tensors.Select(t => t.Name);

    public GgufWriter AddUInt32(string key, uint value) => Add(key, w => { Type(w, ValueType.UInt32); w.Write(value); });
    public GgufWriter AddInt32(string key, int value) => Add(key, w => { Type(w, ValueType.Int32); w.Write(value); });
    public GgufWriter AddFloat32(string key, float value) => Add(key, w => { Type(w, ValueType.Float32); w.Write(value); });
    public GgufWriter AddBool(string key, bool value) => Add(key, w => { Type(w, ValueType.Bool); w.Write((byte)(value ? 1 : 0)); });
    public GgufWriter AddString(string key, string value) => Add(key, w => { Type(w, ValueType.String); Str(w, value); });

    public GgufWriter AddStringArray(string key, IReadOnlyList<string> values) => Add(key, w =>
    {
        ArrayHeader(w, ValueType.String, values.Count);
        foreach (string s in values) Str(w, s);
    });

    public GgufWriter AddInt32Array(string key, IReadOnlyList<int> values) => Add(key, w =>
    {
        ArrayHeader(w, ValueType.Int32, values.Count);
        foreach (int v in values) w.Write(v);
    });

    public GgufWriter AddUInt32Array(string key, IReadOnlyList<uint> values) => Add(key, w =>
    {
        ArrayHeader(w, ValueType.UInt32, values.Count);
        foreach (uint v in values) w.Write(v);
    });

    public GgufWriter AddFloat32Array(string key, IReadOnlyList<float> values) => Add(key, w =>
    {
        ArrayHeader(w, ValueType.Float32, values.Count);
        foreach (float v in values) w.Write(v);
    });

    /// <summary>Adds a float32 tensor of row-major <paramref name="shape"/> (outermost first).</summary>
    /// <exception cref="ArgumentException">A duplicate name, an empty or non-positive shape, or a data length that is not product(shape).</exception>
    public GgufWriter AddTensor(string name, IReadOnlyList<long> shape, float[] data)
        => AddTensor(name, shape, DType.F32, MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    /// <summary>Adds a tensor of row-major <paramref name="shape"/> whose <paramref name="data"/> is already encoded as
    /// <paramref name="type"/> (for a quantized type: whole blocks along the innermost dimension, row after row).</summary>
    /// <exception cref="ArgumentException">A duplicate name, an empty or non-positive shape, an innermost dimension that is
    /// not whole blocks, or a data length that does not match.</exception>
    public GgufWriter AddTensor(string name, IReadOnlyList<long> shape, DType type, byte[] data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (shape.Count is 0 or > 4) throw new ArgumentException($"tensor '{name}': GGUF tensors have 1 to 4 dimensions, found {shape.Count}", nameof(shape));
        long n = 1;
        foreach (long s in shape)
        {
            if (s <= 0) throw new ArgumentException($"tensor '{name}': dimension {s} is not positive", nameof(shape));
            n = checked(n * s);
        }
        if (type.IsQuantized() && shape[^1] % type.BlockValues() != 0)
            throw new ArgumentException($"tensor '{name}': a {type} row of {shape[^1]} values is not whole blocks of {type.BlockValues()}", nameof(shape));
        if (type.ByteCount(n) != data.Length)
            throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", shape)}] has {n} elements, {type.ByteCount(n)} bytes of {type}, but {data.Length} bytes were given", nameof(data));
        if (!_names.Add(name)) throw new ArgumentException($"tensor '{name}' added twice", nameof(name));
        _tensors.Add((name, shape.Reverse().Select(s => (ulong)s).ToArray(), type, data));
        return this;
    }

    /// <summary>Writes the file (to a temporary name, renamed when complete).</summary>
    public void Write(string path)
    {
        string tmp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: false))
            {
                w.Write("GGUF"u8);
                w.Write(3u);
                w.Write((ulong)_tensors.Count);
                w.Write((ulong)_metadata.Count);
                foreach ((string key, Action<BinaryWriter> write) in _metadata)
                {
                    Str(w, key);
                    write(w);
                }
                ulong offset = 0;
                foreach ((string name, ulong[] dims, DType type, byte[] data) in _tensors)
                {
                    Str(w, name);
                    w.Write((uint)dims.Length);
                    foreach (ulong d in dims) w.Write(d);
                    w.Write(GgmlType(type));
                    w.Write(offset);
                    offset += Align((ulong)data.Length);
                }
                Pad(w);
                foreach ((_, _, _, byte[] data) in _tensors)
                {
                    w.Write(data);
                    Pad(w);
                }
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    private GgufWriter Add(string key, Action<BinaryWriter> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (!_keys.Add(key)) throw new ArgumentException($"metadata key '{key}' added twice", nameof(key));
        _metadata.Add((key, write));
        return this;
    }

    private static void Type(BinaryWriter w, ValueType t) => w.Write((uint)t);

    private static void ArrayHeader(BinaryWriter w, ValueType element, int count)
    {
        Type(w, ValueType.Array);
        w.Write((uint)element);
        w.Write((ulong)count);
    }

    private static void Str(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static ulong Align(ulong n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void Pad(BinaryWriter w)
    {
        long pos = w.BaseStream.Position, pad = (long)Align((ulong)pos) - pos;
        for (long i = 0; i < pad; i++) w.Write((byte)0);
    }
}
