using System.Buffers.Binary;
using System.Text;
using Dllm.Tensors;

namespace Dllm.IO;

/// <summary>
/// Parses and validates the header of a GGUF file (v2 or v3, little-endian; ggml's gguf.cpp is the reference
/// for the layout): magic <c>GGUF</c>, version (u32), tensor count and metadata count (u64), the typed metadata
/// key/values, the tensor infos (name, dimension count, dimensions innermost first, ggml type, offset), then the
/// data section at the next multiple of <c>general.alignment</c> (default 32).
/// <para>Every count, length and offset is checked against the bytes that are really there before anything is
/// allocated, so a truncated or corrupt file is one <see cref="InvalidDataException"/> naming the problem, never an
/// out-of-memory or an out-of-bounds read. Tensor types Dllm cannot compute with are refused by name (e.g. Q3_K).</para>
/// </summary>
internal ref struct GgufHeader
{
    private readonly ReadOnlySpan<byte> _b;
    private readonly string _path;
    private int _pos;

    private GgufHeader(ReadOnlySpan<byte> bytes, string path) { _b = bytes; _path = path; _pos = 0; }

    /// <summary>Parses <paramref name="file"/> (the whole mapped file, or at least its header).</summary>
    /// <param name="file">The file's bytes from its start (at least the whole header).</param>
    /// <param name="fileLength">Length of the whole file (the data section must fit in it).</param>
    /// <param name="path">The file's path, for messages.</param>
    public static (Dictionary<string, object> Metadata, Dictionary<string, TensorInfo> Tensors, long DataStart) Parse(ReadOnlySpan<byte> file, long fileLength, string path)
    {
        var h = new GgufHeader(file, path);
        if (file.Length < 4 || !file[..4].SequenceEqual("GGUF"u8))
            throw h.Bad("bad magic: not a GGUF file (it must start with the 4 bytes 'GGUF')");
        h._pos = 4;
        uint version = h.U32("version");
        if (version is not (2 or 3))
            throw h.Bad($"GGUF version {version} is not supported (Dllm reads versions 2 and 3){(version == 1 ? "; version 1 files predate 64-bit counts, convert them again with a recent llama.cpp" : "")}");
        ulong tensorCount = h.U64("tensor count"), kvCount = h.U64("metadata count");
        // Each metadata entry takes at least 12 bytes (key length + type), each tensor info at least 28.
        if (kvCount > (ulong)(h.Left / 12)) throw h.Bad($"metadata count {kvCount} cannot fit in the {h.Left} bytes left: the file is truncated or corrupt");
        if (tensorCount > (ulong)(h.Left / 28)) throw h.Bad($"tensor count {tensorCount} cannot fit in the {h.Left} bytes left: the file is truncated or corrupt");

        var meta = new Dictionary<string, object>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = h.Name("metadata key");
            uint type = h.U32($"type of '{key}'");
            object value = h.Value(type, key, depth: 0);
            if (!meta.TryAdd(key, value)) throw h.Bad($"metadata key '{key}' appears twice");
        }

        long alignment = 32;
        if (meta.TryGetValue("general.alignment", out object? a))
        {
            if (a is not uint al || al == 0 || (al & (al - 1)) != 0 || al > 1 << 20)
                throw h.Bad($"general.alignment must be a power of two (u32), found {a}");
            alignment = al;
        }

        var raw = new List<(string Name, long[] Shape, DType Type, ulong Offset)>((int)tensorCount);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            string name = h.Name("tensor name");
            if (!names.Add(name)) throw h.Bad($"tensor '{name}' appears twice");
            uint nd = h.U32($"dimension count of '{name}'");
            if (nd is 0 or > 4) throw h.Bad($"tensor '{name}' has {nd} dimensions (GGUF allows 1 to 4)");
            var shape = new long[nd];
            for (int d = 0; d < nd; d++)
            {
                ulong dim = h.U64($"dimension of '{name}'");
                if (dim == 0 || dim > int.MaxValue) throw h.Bad($"tensor '{name}' has dimension {dim} (must be 1 to {int.MaxValue})");
                shape[nd - 1 - d] = (long)dim; // GGUF lists the innermost first
            }
            uint typeId = h.U32($"type of '{name}'");
            DType type = TypeOf(typeId) ?? throw h.Bad($"tensor '{name}' has ggml type {TypeName(typeId)}, which Dllm cannot compute with (it reads F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q5_K and Q6_K)", notSupported: true);
            if (type.IsQuantized() && shape[^1] % type.BlockValues() != 0)
                throw h.Bad($"tensor '{name}' of {type} has rows of {shape[^1]} values, not whole blocks of {type.BlockValues()}");
            ulong offset = h.U64($"offset of '{name}'");
            raw.Add((name, shape, type, offset));
        }

        long dataStart = (h._pos + alignment - 1) / alignment * alignment;
        if (raw.Count > 0 && dataStart > fileLength) throw h.Bad($"the data section would start at byte {dataStart}, past the end of the file ({fileLength} bytes): the file is truncated");
        long dataLength = fileLength - dataStart;
        var tensors = new Dictionary<string, TensorInfo>(raw.Count, StringComparer.Ordinal);
        foreach (var (name, shape, type, offset) in raw)
        {
            long bytes;
            try
            {
                long n = 1;
                foreach (long d in shape) n = checked(n * d);
                bytes = type.ByteCount(n);
            }
            catch (OverflowException) { throw h.Bad($"tensor '{name}' shape {TensorInfo.FormatShape(shape)} overflows a 64-bit size"); }
            if (offset % (ulong)alignment != 0) throw h.Bad($"tensor '{name}' offset {offset} is not a multiple of the alignment {alignment}");
            if (offset > (ulong)dataLength || (ulong)bytes > (ulong)dataLength - offset)
                throw h.Bad($"tensor '{name}' ({type}{TensorInfo.FormatShape(shape)}, {bytes} bytes at data offset {offset}) extends beyond the end of the file (data section {dataLength} bytes): the file is truncated");
            tensors.Add(name, new TensorInfo(name, type, shape, dataStart + (long)offset, bytes));
        }
        return (meta, tensors, dataStart);
    }

    /// <summary>The <see cref="DType"/> of a ggml type id, or null when Dllm has none.</summary>
    public static DType? TypeOf(uint ggmlType) => ggmlType switch
    {
        0 => DType.F32, 1 => DType.F16, 2 => DType.Q4_0, 6 => DType.Q5_0, 8 => DType.Q8_0, 12 => DType.Q4_K, 13 => DType.Q5_K, 14 => DType.Q6_K, 30 => DType.BF16, _ => null,
    };

    /// <summary>ggml's name for a type id (ggml.h), for messages.</summary>
    public static string TypeName(uint id) => id switch
    {
        0 => "F32", 1 => "F16", 2 => "Q4_0", 3 => "Q4_1", 6 => "Q5_0", 7 => "Q5_1", 8 => "Q8_0", 9 => "Q8_1",
        10 => "Q2_K", 11 => "Q3_K", 12 => "Q4_K", 13 => "Q5_K", 14 => "Q6_K", 15 => "Q8_K",
        16 => "IQ2_XXS", 17 => "IQ2_XS", 18 => "IQ3_XXS", 19 => "IQ1_S", 20 => "IQ4_NL", 21 => "IQ3_S", 22 => "IQ2_S", 23 => "IQ4_XS",
        24 => "I8", 25 => "I16", 26 => "I32", 27 => "I64", 28 => "F64", 29 => "IQ1_M", 30 => "BF16",
        _ => $"id {id} (unknown)",
    };

    private long Left => _b.Length - _pos;

    private Exception Bad(string what, bool notSupported = false)
        => notSupported ? new NotSupportedException($"{_path}: {what}") : new InvalidDataException($"{_path}: {what}");

    private ReadOnlySpan<byte> Take(long n, string what)
    {
        if (n < 0 || n > Left) throw Bad($"the file ends inside {what} (byte {_pos} of {_b.Length}): it is truncated or corrupt");
        ReadOnlySpan<byte> s = _b.Slice(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    private uint U32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));
    private ulong U64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

    private string Str(string what)
    {
        ulong n = U64(what);
        if (n > (ulong)Left) throw Bad($"{what} claims {n} bytes but only {Left} remain: the file is truncated or corrupt");
        ReadOnlySpan<byte> s = Take((long)n, what);
        try { return new UTF8Encoding(false, true).GetString(s); }
        catch (DecoderFallbackException) { throw Bad($"{what} at byte {_pos - (int)n} is not valid UTF-8"); }
    }

    /// <summary>A metadata key or tensor name: a string without control characters (they would break the one-line errors
    /// that name it, and no key or tensor llama.cpp writes has one; string values such as a chat template may).</summary>
    private string Name(string what)
    {
        int at = _pos;
        string s = Str(what);
        if (PrintableText.HasControl(s)) throw Bad($"{what} at byte {at} has control characters: \"{PrintableText.Escape(s)}\"");
        return s;
    }

    private object Value(uint type, string key, int depth)
    {
        string what = $"the value of '{key}'";
        switch (type)
        {
            case 0: return Take(1, what)[0];
            case 1: return (sbyte)Take(1, what)[0];
            case 2: return BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what));
            case 3: return BinaryPrimitives.ReadInt16LittleEndian(Take(2, what));
            case 4: return U32(what);
            case 5: return BinaryPrimitives.ReadInt32LittleEndian(Take(4, what));
            case 6: return BinaryPrimitives.ReadSingleLittleEndian(Take(4, what));
            case 7:
                byte b = Take(1, what)[0];
                return b <= 1 ? b == 1 : throw Bad($"{what} is a bool stored as {b} (must be 0 or 1)");
            case 8: return Str(what);
            case 9:
                if (depth > 2) throw Bad($"{what} nests arrays more than 3 deep");
                uint elem = U32($"the array type of '{key}'");
                ulong count = U64($"the array length of '{key}'");
                if (count > (ulong)Left) throw Bad($"array '{key}' claims {count} elements but only {Left} bytes remain: the file is truncated or corrupt");
                var items = new object[count];
                for (ulong i = 0; i < count; i++) items[i] = Value(elem, key, depth + 1);
                return items;
            case 10: return U64(what);
            case 11: return BinaryPrimitives.ReadInt64LittleEndian(Take(8, what));
            case 12: return BinaryPrimitives.ReadDoubleLittleEndian(Take(8, what));
            default: throw Bad($"metadata '{key}' has unknown value type {type}");
        }
    }
}
