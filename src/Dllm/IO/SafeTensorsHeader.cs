using System.Text.Json;
using System.Text.Unicode;
using Dllm.Tensors;

namespace Dllm.IO;

/// <summary>
/// Parses and validates the JSON header of a safetensors file. Kept apart from the memory
/// mapping so every rule lives in one place and every error names the file it came from.
/// </summary>
/// <remarks>
/// Layout: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON (possibly padded
/// with trailing spaces), then the data section. Each header entry is
/// <c>name -> {"dtype", "shape", "data_offsets": [begin, end]}</c> with offsets relative to the
/// start of the data section; the optional <c>__metadata__</c> entry maps strings to strings.
/// Gaps between tensors are tolerated (the format does not need them, but they are harmless);
/// overlaps are not, because a writer through one tensor would corrupt another.
/// </remarks>
internal static class SafeTensorsHeader
{
    /// <summary>Headers above this are refused: real ones are a few hundred KB, and a garbage
    /// length field would otherwise make us allocate gigabytes. The Python library uses the same cap.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>The size of the length prefix.</summary>
    public const int PrefixBytes = 8;

    /// <summary>Checks the header length read from the prefix against the file size; returns it as a long.</summary>
    /// <exception cref="InvalidDataException">The file is too short, or the length is absurd or beyond the file.</exception>
    public static long CheckHeaderLength(ulong headerLength, long fileLength, string path)
    {
        if (fileLength < PrefixBytes)
            throw Bad(path, $"file is {fileLength} bytes, shorter than the 8-byte header length prefix: not a safetensors file (or truncated)");
        if (headerLength > MaxHeaderBytes)
            throw Bad(path, $"header length {headerLength} bytes is absurd (limit {MaxHeaderBytes}): not a safetensors file, or corrupt");
        if ((long)headerLength > fileLength - PrefixBytes)
            throw Bad(path, $"header length {headerLength} bytes extends beyond the end of the file ({fileLength} bytes): the file is truncated or not safetensors");
        return (long)headerLength;
    }

    /// <summary>
    /// Parses the header JSON and validates every entry against a data section of
    /// <paramref name="dataLength"/> bytes starting at absolute offset <paramref name="dataStart"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">Any violation; the message names the file and the tensor.</exception>
    public static (Dictionary<string, TensorInfo> Tensors, Dictionary<string, string> Metadata) Parse(
        ReadOnlySpan<byte> json, long dataStart, long dataLength, string path)
    {
        // System.Text.Json would also reject bad UTF-8, but its message talks about "invalid
        // tokens"; checking first gives the user the real cause.
        if (!Utf8.IsValid(json))
            throw Bad(path, "header is not valid UTF-8");

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            throw Bad(path, $"header is not valid JSON: {JsonErrors.OneLine(e.Message)}", e);
        }

        using (doc)
        try
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Bad(path, $"header must be a JSON object, found {doc.RootElement.ValueKind}");

            var tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    ParseMetadata(p.Value, metadata, path);
                    continue;
                }
                // JSON allows duplicate keys; two entries for one name would make lookups ambiguous.
                if (tensors.ContainsKey(p.Name))
                    throw Bad(path, $"tensor '{p.Name}' appears twice in the header");
                tensors.Add(p.Name, ParseEntry(p.Name, p.Value, dataStart, dataLength, path));
            }
            CheckOverlaps(tensors.Values, dataStart, path);
            return (tensors, metadata);
        }
        catch (InvalidOperationException e) // a name or string with an invalid \u escape
        {
            throw Bad(path, $"header holds a string that is not valid Unicode: {JsonErrors.OneLine(e.Message)}", e);
        }
    }

    private static void ParseMetadata(JsonElement e, Dictionary<string, string> metadata, string path)
    {
        if (e.ValueKind == JsonValueKind.Null) return; // some writers emit "__metadata__": null
        if (e.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"__metadata__ must be an object of strings, found {e.ValueKind}");
        foreach (JsonProperty m in e.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
                throw Bad(path, $"__metadata__ value for '{m.Name}' must be a string, found {m.Value.ValueKind}");
            metadata[m.Name] = m.Value.GetString()!;
        }
    }

    private static TensorInfo ParseEntry(string name, JsonElement e, long dataStart, long dataLength, string path)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"entry for tensor '{name}' must be an object, found {e.ValueKind}");

        if (!e.TryGetProperty("dtype", out JsonElement dtypeEl))
            throw Bad(path, $"tensor '{name}' has no dtype");
        if (!e.TryGetProperty("shape", out JsonElement shapeEl))
            throw Bad(path, $"tensor '{name}' has no shape");
        if (!e.TryGetProperty("data_offsets", out JsonElement offEl))
            throw Bad(path, $"tensor '{name}' has no data_offsets");

        if (dtypeEl.ValueKind != JsonValueKind.String)
            throw Bad(path, $"dtype of tensor '{name}' must be a string, found {dtypeEl.ValueKind}");
        string dtypeName = dtypeEl.GetString()!;
        if (!DTypeInfo.TryParseSafeTensors(dtypeName, out DType dtype))
            throw Bad(path, $"unsupported dtype '{dtypeName}' for tensor '{name}' (Dllm reads F32, F16, BF16 and its own Q8_0 and Q4_0)");

        long[] shape = ParseShape(name, shapeEl, path);

        if (offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2
            || offEl[0].ValueKind != JsonValueKind.Number || offEl[1].ValueKind != JsonValueKind.Number
            || !offEl[0].TryGetInt64(out long begin) || !offEl[1].TryGetInt64(out long end)
            || begin < 0 || end < 0)
            throw Bad(path, $"data_offsets of tensor '{name}' must be [begin, end] with non-negative integers, found {offEl.GetRawText()}");
        if (begin > end)
            throw Bad(path, $"data_offsets of tensor '{name}' are reversed: begin {begin} > end {end}");
        if (end > dataLength)
            throw Bad(path, $"tensor '{name}' data_offsets [{begin}, {end}] extend beyond the data section ({dataLength} bytes): the file is truncated");

        long elements = 1;
        long expectedBytes;
        try
        {
            foreach (long d in shape) elements = checked(elements * d);
            if (dtype.IsQuantized() && (shape.Length == 0 || shape[^1] % dtype.BlockValues() != 0))
                throw Bad(path, $"tensor '{name}' of {dtypeName} has shape {TensorInfo.FormatShape(shape)}: a quantized tensor's last dimension must be a multiple of {dtype.BlockValues()}");
            expectedBytes = dtype.ByteCount(elements);
        }
        catch (OverflowException)
        {
            throw Bad(path, $"shape {TensorInfo.FormatShape(shape)} of tensor '{name}' overflows a 64-bit element count");
        }
        if (expectedBytes != end - begin)
            throw Bad(path, $"shape/dtype/size mismatch for tensor '{name}': shape {TensorInfo.FormatShape(shape)} of {dtypeName} needs {expectedBytes} bytes but data_offsets [{begin}, {end}] span {end - begin}");

        return new TensorInfo(name, dtype, shape, dataStart + begin, end - begin);
    }

    private static long[] ParseShape(string name, JsonElement e, string path)
    {
        if (e.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"shape of tensor '{name}' must be an array, found {e.ValueKind}");
        var shape = new long[e.GetArrayLength()];
        int i = 0;
        foreach (JsonElement d in e.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v))
                throw Bad(path, $"shape of tensor '{name}' must hold integers, found {d.GetRawText()}");
            if (v < 0)
                throw Bad(path, $"negative dimension {v} in shape of tensor '{name}'");
            shape[i++] = v;
        }
        return shape;
    }

    /// <summary>Rejects tensors whose byte ranges intersect. Empty tensors occupy nothing and never overlap.</summary>
    private static void CheckOverlaps(IEnumerable<TensorInfo> tensors, long dataStart, string path)
    {
        TensorInfo[] sorted = tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.DataOffset).ToArray();
        for (int i = 1; i < sorted.Length; i++)
        {
            TensorInfo a = sorted[i - 1], b = sorted[i];
            if (b.DataOffset < a.DataOffset + a.ByteLength)
                throw Bad(path, $"tensors '{a.Name}' [{a.DataOffset - dataStart}, {a.DataOffset - dataStart + a.ByteLength}) and '{b.Name}' [{b.DataOffset - dataStart}, {b.DataOffset - dataStart + b.ByteLength}) overlap");
        }
    }

    internal static InvalidDataException Bad(string path, string message, Exception? inner = null)
        => new($"{path}: {message}", inner);
}
