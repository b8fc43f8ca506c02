using System.Buffers.Binary;
using Dllm.Tensors;

namespace Dllm.IO;

/// <summary>
/// A safetensors file mapped read-only into memory. Tensor data is never copied: pointers and
/// <see cref="MatrixView"/>s point straight into the mapping, so a bf16 checkpoint stays at 2
/// bytes per parameter and pages are loaded by the OS on first touch.
/// </summary>
/// <remarks>
/// <para>The header is validated completely in <see cref="Open"/> (see <see cref="SafeTensorsHeader"/>),
/// so every pointer handed out lies inside the file. Pointers, views and spans are valid only
/// until <see cref="Dispose"/>; using them afterwards is a use-after-free.</para>
/// <para>Data is read as little-endian, which is what every supported host (x64, arm64) is.</para>
/// <para>Replacing the file on disk by rename (as <see cref="SafeTensorsWriter"/> does) is safe on
/// Unix: the mapping keeps the old inode. Truncating the file in place while mapped is not safe
/// (reads past the new end fault), which is why our writer never does that.</para>
/// <para>Lookups are thread-safe; Dispose must not race with them.</para>
/// </remarks>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly MappedFile _map;
    private readonly Dictionary<string, TensorInfo> _tensors;

    /// <summary>The path the file was opened from (as given, made absolute).</summary>
    public string Path { get; }

    /// <summary>File size in bytes.</summary>
    public long Length { get; }

    /// <summary>Every tensor in the header, by name (ordinal comparison).</summary>
    public IReadOnlyDictionary<string, TensorInfo> Tensors => _tensors;

    /// <summary>The <c>__metadata__</c> map; empty when the header has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafeTensorsFile(string path, MappedFile map, Dictionary<string, TensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path; Length = map.Length; _map = map;
        _tensors = tensors; Metadata = metadata;
    }

    /// <summary>Maps <paramref name="path"/> read-only and validates its header.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file this engine can read
    /// (too short, bad header length, bad JSON, unsupported dtype, shape/size mismatch, truncated data,
    /// overlapping tensors); the message names the file and, where relevant, the tensor.</exception>
    public static SafeTensorsFile Open(string path)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian hosts are not supported");
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        // Checked before the file is opened (and memory-mapped): a FIFO or device reports 0 bytes and would block.
        if (new FileInfo(path).Length == 0)
            throw new InvalidDataException($"{path}: file is 0 bytes, shorter than the 8-byte header length prefix: not a safetensors file (empty, or a FIFO or device)");

        // FileShare.Read | Delete: others may read it too, and a writer may rename a new version
        // over it while we hold the old one mapped.
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        long length = fs.Length;
        // Check before mapping: mapping an empty file throws an unhelpful ArgumentException.
        if (length < SafeTensorsHeader.PrefixBytes)
        {
            fs.Dispose();
            SafeTensorsHeader.CheckHeaderLength(0, length, path); // throws "shorter than the 8-byte prefix"
        }

        MappedFile map = MappedFile.Map(fs);
        try
        {
            byte* ptr = map.Base;
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(ptr, 8));
            long headerLength = SafeTensorsHeader.CheckHeaderLength(n, length, path);
            long dataStart = SafeTensorsHeader.PrefixBytes + headerLength;
            var (tensors, metadata) = SafeTensorsHeader.Parse(
                new ReadOnlySpan<byte>(ptr + SafeTensorsHeader.PrefixBytes, (int)headerLength),
                dataStart, length - dataStart, path);
            return new SafeTensorsFile(path, map, tensors, metadata);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <summary>The entry for <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException"><c>tensor 'x' not found in &lt;file&gt;</c>.</exception>
    public TensorInfo Get(string name)
    {
        if (_tensors.TryGetValue(name, out TensorInfo? t)) return t;
        throw new KeyNotFoundException($"tensor '{name}' not found in {Path}");
    }

    /// <summary>True when the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>Address of the first element of <paramref name="name"/> inside the mapping.
    /// For a zero-element tensor this is a valid address that must not be read.</summary>
    public nint GetPointer(string name) => GetPointer(Get(name));

    /// <summary>Address of the first element of a tensor of this file.</summary>
    public nint GetPointer(TensorInfo t)
    {
        ObjectDisposedException.ThrowIf(_map.IsDisposed, this);
        return (nint)(_map.Base + t.DataOffset);
    }

    /// <summary>The raw bytes of a tensor, valid until Dispose. Throws for tensors over 2 GiB
    /// (a span cannot address them); use <see cref="GetPointer(string)"/> for those.</summary>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        TensorInfo t = Get(name);
        if (t.ByteLength > int.MaxValue)
            throw new InvalidOperationException($"tensor '{name}' in {Path} is {t.ByteLength} bytes, too large for a span");
        return new ReadOnlySpan<byte>((void*)GetPointer(t), (int)t.ByteLength);
    }

    /// <summary>
    /// A row-major view of a 2-D tensor (rows = shape[0]); a 1-D tensor of n elements gives a 1×n view.
    /// </summary>
    /// <exception cref="InvalidDataException">Rank other than 1 or 2, or a dimension above int.MaxValue.</exception>
    public MatrixView GetMatrix(string name) => ToMatrix(Get(name), GetPointer(name), Path);

    internal static MatrixView ToMatrix(TensorInfo t, nint ptr, string path)
    {
        (long rows, long cols) = t.Rank switch
        {
            1 => (1L, t.Shape[0]),
            2 => (t.Shape[0], t.Shape[1]),
            _ => throw new InvalidDataException($"{path}: tensor '{t.Name}' has shape {t.ShapeString}; a matrix needs 1 or 2 dimensions"),
        };
        if (rows > int.MaxValue || cols > int.MaxValue)
            throw new InvalidDataException($"{path}: tensor '{t.Name}' shape {t.ShapeString} has a dimension above {int.MaxValue}");
        return MatrixView.RowMajor(ptr, t.DType, (int)rows, (int)cols);
    }

    /// <summary>A float32 copy of the tensor, widened from its stored type (for small tensors such
    /// as norm weights; big matrices should stay mapped). A zero-element tensor gives an empty array.</summary>
    /// <exception cref="InvalidOperationException">More than int.MaxValue elements.</exception>
    public float[] ReadSingle(string name)
    {
        TensorInfo t = Get(name);
        long n = t.ElementCount;
        if (n > Array.MaxLength)
            throw new InvalidOperationException($"tensor '{name}' in {Path} has {n} elements, too many to copy into one array");
        var result = new float[n];
        if (n > 0) Widen.ToSingle(GetPointer(t), t.DType, result);
        return result;
    }

    /// <summary>Unmaps the file. Idempotent. Every pointer and view handed out becomes invalid.</summary>
    public void Dispose() => _map.Dispose();

    public override string ToString() => $"{Path} ({_tensors.Count} tensors, {Length} bytes)";
}
