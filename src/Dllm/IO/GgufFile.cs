using Dllm.Tensors;

namespace Dllm.IO;

/// <summary>
/// A GGUF file (llama.cpp's container) mapped read-only: the reader next to <see cref="GgufWriter"/>. Tensor data is
/// never copied: <see cref="GetMatrix"/> points into the mapping, so a quantized tensor is used in place by
/// <see cref="QuantGemm"/>. The header is validated completely on <see cref="Open"/> (<see cref="GgufHeader"/>).
/// </summary>
/// <remarks>
/// <para>Shapes are reported outermost first, like safetensors (GGUF lists them innermost first): a GGUF tensor with
/// ne = {cols, rows} is a row-major [rows, cols] matrix.</para>
/// <para>Pointers and views are valid until <see cref="Dispose"/>. Metadata values keep their GGUF types (uint, int,
/// float, bool, string, ulong, ..., arrays as object[]); the typed getters name the key and the type on a mismatch.</para>
/// </remarks>
public sealed unsafe class GgufFile : IDisposable
{
    private readonly MappedFile _map;
    private readonly Dictionary<string, TensorInfo> _tensors;
    private readonly Dictionary<string, object> _metadata;

    /// <summary>The absolute path the file was opened from.</summary>
    public string Path { get; }

    /// <summary>Every tensor by name; <see cref="TensorInfo.DataOffset"/> is absolute within the file.</summary>
    public IReadOnlyDictionary<string, TensorInfo> Tensors => _tensors;

    /// <summary>Every metadata key/value.</summary>
    public IReadOnlyDictionary<string, object> Metadata => _metadata;

    private GgufFile(string path, MappedFile map, Dictionary<string, object> meta, Dictionary<string, TensorInfo> tensors)
    {
        Path = path; _map = map; _metadata = meta; _tensors = tensors;
    }

    /// <summary>Maps <paramref name="path"/> and validates its header.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a GGUF file, or a corrupt or truncated one; the message names the file and the problem.</exception>
    /// <exception cref="NotSupportedException">A well-formed file with a tensor type Dllm does not compute with (e.g. Q3_K).</exception>
    public static GgufFile Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"GGUF file not found: {path}", path);
        if (new FileInfo(path).Length < 24) // checked before mapping: an empty file cannot be mapped, a FIFO would block
            throw new InvalidDataException($"{path}: file is {new FileInfo(path).Length} bytes, too short for a GGUF header (24 bytes): not a GGUF file, or truncated");
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        MappedFile map = MappedFile.Map(fs);
        try
        {
            var (meta, tensors, _) = GgufHeader.Parse(new ReadOnlySpan<byte>(map.Base, (int)Math.Min(map.Length, int.MaxValue)), map.Length, path);
            return new GgufFile(path, map, meta, tensors);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <summary>True when the file has a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The entry for <paramref name="name"/>.</summary>
    /// <exception cref="InvalidDataException">No such tensor (naming the file).</exception>
    public TensorInfo Get(string name) => _tensors.TryGetValue(name, out TensorInfo? t) ? t
        : throw new InvalidDataException($"{Path}: tensor '{name}' is missing");

    /// <summary>Address of a tensor's first byte in the mapping.</summary>
    public nint GetPointer(TensorInfo t)
    {
        ObjectDisposedException.ThrowIf(_map.IsDisposed, this);
        return (nint)(_map.Base + t.DataOffset);
    }

    /// <summary>Row-major view of a tensor that must be [<paramref name="rows"/>, <paramref name="cols"/>] (a 1-D [n] for rows = 1).</summary>
    /// <exception cref="InvalidDataException">Missing, or another shape.</exception>
    public MatrixView GetMatrix(string name, int rows, int cols)
    {
        TensorInfo t = Get(name);
        bool ok = t.Rank == 2 ? t.Shape[0] == rows && t.Shape[1] == cols : t.Rank == 1 && rows == 1 && t.Shape[0] == cols;
        if (!ok) throw new InvalidDataException($"{Path}: tensor '{name}' has shape {t.ShapeString}, expected [{rows}, {cols}]");
        return MatrixView.RowMajor(GetPointer(t), t.DType, rows, cols);
    }

    /// <summary>Row-major view of slice <paramref name="index"/> of a stacked tensor that must be
    /// [<paramref name="count"/>, <paramref name="rows"/>, <paramref name="cols"/>] (llama.cpp's mixture-of-experts
    /// <c>ffn_*_exps</c>: GGUF ne = {cols, rows, count}, expert after expert; a quantized slice is whole rows of blocks).</summary>
    /// <exception cref="InvalidDataException">Missing, or another shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> outside [0, count).</exception>
    public MatrixView GetStackedMatrix(string name, int count, int index, int rows, int cols)
    {
        TensorInfo t = Get(name);
        if (t.Rank != 3 || t.Shape[0] != count || t.Shape[1] != rows || t.Shape[2] != cols)
            throw new InvalidDataException($"{Path}: tensor '{name}' has shape {t.ShapeString}, expected [{count}, {rows}, {cols}]");
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
        return MatrixView.RowMajor(GetPointer(t) + (nint)(t.ByteLength / count * index), t.DType, rows, cols);
    }

    /// <summary>A float32 copy of a tensor that must hold <paramref name="expectedElements"/> values.</summary>
    /// <exception cref="InvalidDataException">Missing, or another element count.</exception>
    public float[] ReadSingle(string name, long expectedElements)
    {
        TensorInfo t = Get(name);
        if (t.ElementCount != expectedElements)
            throw new InvalidDataException($"{Path}: tensor '{name}' has shape {t.ShapeString} ({t.ElementCount} values), expected {expectedElements}");
        var r = new float[expectedElements];
        Widen.ToSingle(GetPointer(t), t.DType, r);
        return r;
    }

    /// <summary>A string metadata value.</summary>
    /// <exception cref="InvalidDataException">Missing or not a string.</exception>
    public string GetString(string key) => Get<string>(key, "a string");

    /// <summary>An unsigned or non-negative signed integer metadata value of any width, as int.</summary>
    /// <exception cref="InvalidDataException">Missing, not an integer, or outside [0, int.MaxValue].</exception>
    public int GetCount(string key) => TryGetCount(key) ?? throw new InvalidDataException($"{Path}: metadata '{key}' is missing");

    /// <summary><see cref="GetCount"/>, or null when the key is absent.</summary>
    public int? TryGetCount(string key)
    {
        if (!_metadata.TryGetValue(key, out object? v)) return null;
        long? n = v switch { byte b => b, ushort u => u, uint u => u, ulong u => u <= long.MaxValue ? (long)u : -1, sbyte s => s, short s => s, int i => i, long l => l, _ => null };
        if (n is null) throw new InvalidDataException($"{Path}: metadata '{key}' must be an integer, found {v.GetType().Name}");
        if (n < 0 || n > int.MaxValue) throw new InvalidDataException($"{Path}: metadata '{key}' = {v} is outside [0, {int.MaxValue}]");
        return (int)n;
    }

    /// <summary>A float metadata value (f32 or f64), or <paramref name="fallback"/> when absent.</summary>
    /// <exception cref="InvalidDataException">Present but not a finite float.</exception>
    public double GetFloat(string key, double fallback)
    {
        if (!_metadata.TryGetValue(key, out object? v)) return fallback;
        double d = v switch { float f => f, double x => x, _ => throw new InvalidDataException($"{Path}: metadata '{key}' must be a float, found {v.GetType().Name}") };
        return double.IsFinite(d) ? d : throw new InvalidDataException($"{Path}: metadata '{key}' is {d}");
    }

    private T Get<T>(string key, string what)
    {
        if (!_metadata.TryGetValue(key, out object? v)) throw new InvalidDataException($"{Path}: metadata '{key}' is missing");
        return v is T t ? t : throw new InvalidDataException($"{Path}: metadata '{key}' must be {what}, found {v.GetType().Name}");
    }

    /// <summary>Unmaps the file. Idempotent; every pointer and view handed out becomes invalid.</summary>
    public void Dispose() => _map.Dispose();

    public override string ToString() => $"{Path} ({_tensors.Count} tensors)";
}
