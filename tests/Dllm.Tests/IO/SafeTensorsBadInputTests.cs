using Dllm.IO;
using Xunit;

namespace Dllm.Tests.IO;

/// <summary>Every malformed file must fail in Open with an InvalidDataException that names the
/// file and says what is wrong.</summary>
public sealed class SafeTensorsBadInputTests
{
    private readonly string _dir = TestPaths.TempDir();

    private static InvalidDataException OpenFails(string path, string expected)
    {
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(path, ex.Message);
        Assert.Contains(expected, ex.Message);
        return ex;
    }

    [Fact]
    public void EmptyFile()
    {
        string p = Path.Combine(_dir, "empty.safetensors");
        File.WriteAllBytes(p, []);
        OpenFails(p, "shorter than the 8-byte header length prefix");
    }

    [Fact]
    public void FileShorterThanPrefix()
    {
        string p = Path.Combine(_dir, "short.safetensors");
        File.WriteAllBytes(p, [1, 2, 3]);
        OpenFails(p, "file is 3 bytes");
    }

    [Fact]
    public void HeaderLengthBeyondFile()
    {
        string p = RawSafeTensors.Write(_dir, RawSafeTensors.One(), 8, headerLength: 5000);
        OpenFails(p, "header length 5000 bytes extends beyond the end of the file");
    }

    [Fact]
    public void HeaderLengthAbsurd()
    {
        string p = RawSafeTensors.Write(_dir, RawSafeTensors.One(), 8, headerLength: 200_000_000);
        OpenFails(p, "header length 200000000 bytes is absurd");
    }

    [Fact]
    public void HeaderLengthHugeU64()
    {
        // A u64 that is negative as a long must not slip past the checks.
        string p = RawSafeTensors.Write(_dir, RawSafeTensors.One(), 8, headerLength: ulong.MaxValue);
        OpenFails(p, "is absurd");
    }

    [Fact]
    public void HeaderNotJson()
    {
        string p = RawSafeTensors.Write(_dir, "{\"x\": {\"dtype\": ", 8);
        OpenFails(p, "header is not valid JSON");
    }

    [Fact]
    public void HeaderNotObject()
    {
        string p = RawSafeTensors.Write(_dir, "[1, 2, 3]", 0);
        OpenFails(p, "header must be a JSON object, found Array");
    }

    [Fact]
    public void HeaderNotUtf8()
    {
        byte[] header = [(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}'];
        string p = RawSafeTensors.WriteBytes(_dir, header, 0);
        OpenFails(p, "header is not valid UTF-8");
    }

    [Theory]
    [InlineData("dtype")]
    [InlineData("shape")]
    [InlineData("data_offsets")]
    public void EntryMissingField(string field)
    {
        var parts = new Dictionary<string, string> { ["dtype"] = "\"F32\"", ["shape"] = "[2]", ["data_offsets"] = "[0, 8]" };
        parts.Remove(field);
        string json = "{\"x\": {" + string.Join(", ", parts.Select(kv => $"\"{kv.Key}\": {kv.Value}")) + "}}";
        string p = RawSafeTensors.Write(_dir, json, 8);
        OpenFails(p, $"tensor 'x' has no {field}");
    }

    [Fact]
    public void EntryNotObject()
    {
        string p = RawSafeTensors.Write(_dir, "{\"x\": 5}", 0);
        OpenFails(p, "entry for tensor 'x' must be an object");
    }

    [Theory]
    [InlineData("I64")]
    [InlineData("F8_E4M3")]
    [InlineData("F64")]
    public void UnsupportedDtype(string dtype)
    {
        string p = RawSafeTensors.Write(_dir, RawSafeTensors.One(dtype: dtype), 8);
        OpenFails(p, $"unsupported dtype '{dtype}' for tensor 'x'");
    }

    [Fact]
    public void NegativeShapeDimension()
    {
        string p = RawSafeTensors.Write(_dir, RawSafeTensors.One(shape: "[2, -1]"), 8);
        OpenFails(p, "negative dimension -1 in shape of tensor 'x'");
    }

    [Fact]
    public void NonIntegerShapeDimension()
    {
        string p = RawSafeTensors.Write(_dir, RawSafeTensors.One(shape: "[2.5]"), 8);
        OpenFails(p, "shape of tensor 'x' must hold integers");
    }

    [Theory]
    [InlineData("[0]")]
    [InlineData("[0, 8, 16]")]
    [InlineData("\"0-8\"")]
    [InlineData("[-8, 8]")]
    public void OffsetsNotBeginEnd(string offsets)
    {
        string p = RawSafeTensors.Write(_dir, RawSafeTensors.One(offsets: offsets), 8);
        OpenFails(p, "data_offsets of tensor 'x' must be [begin, end]");
    }

    [Fact]
    public void OffsetsReversed()
    {
        string p = RawSafeTensors.Write(_dir, RawSafeTensors.One(offsets: "[8, 0]"), 8);
        OpenFails(p, "data_offsets of tensor 'x' are reversed: begin 8 > end 0");
    }

    [Fact]
    public void OffsetsBeyondDataSectionSaysTruncated()
    {
        // The header promises 8 bytes of data; only 5 are in the file.
        string p = RawSafeTensors.Write(_dir, RawSafeTensors.One(), 5);
        var ex = OpenFails(p, "tensor 'x' data_offsets [0, 8] extend beyond the data section (5 bytes)");
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void SizeMismatch()
    {
        // Two F32 need 8 bytes; the offsets say 6.
        string p = RawSafeTensors.Write(_dir, RawSafeTensors.One(offsets: "[0, 6]"), 8);
        OpenFails(p, "shape/dtype/size mismatch for tensor 'x': shape [2] of F32 needs 8 bytes but data_offsets [0, 6] span 6");
    }

    [Fact]
    public void Overlap()
    {
        string json = """
            {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
             "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}
            """;
        string p = RawSafeTensors.Write(_dir, json, 12);
        OpenFails(p, "tensors 'a' [0, 8) and 'b' [4, 12) overlap");
    }

    [Fact]
    public void DuplicateTensorName()
    {
        string json = """
            {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
             "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}
            """;
        string p = RawSafeTensors.Write(_dir, json, 8);
        OpenFails(p, "tensor 'a' appears twice");
    }

    [Fact]
    public void MetadataValueNotString()
    {
        string json = """{"__metadata__": {"format": 1}}""";
        string p = RawSafeTensors.Write(_dir, json, 0);
        OpenFails(p, "__metadata__ value for 'format' must be a string");
    }

    [Fact]
    public void MissingFile()
    {
        string p = Path.Combine(_dir, "nope.safetensors");
        var ex = Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Open(p));
        Assert.Contains(p, ex.Message);
    }

    [Fact]
    public void MissingTensorLookup()
    {
        string p = RawSafeTensors.Write(_dir, RawSafeTensors.One(), 8);
        using var f = SafeTensorsFile.Open(p);
        var ex = Assert.Throws<KeyNotFoundException>(() => f.Get("y"));
        Assert.Equal($"tensor 'y' not found in {p}", ex.Message);
        Assert.Throws<KeyNotFoundException>(() => f.GetPointer("y"));
        Assert.Throws<KeyNotFoundException>(() => f.ReadSingle("y"));
    }

    [Fact]
    public void GetMatrixOfRank3Fails()
    {
        string p = RawSafeTensors.Write(_dir, RawSafeTensors.One(shape: "[1, 1, 2]"), 8);
        using var f = SafeTensorsFile.Open(p);
        var ex = Assert.Throws<InvalidDataException>(() => f.GetMatrix("x"));
        Assert.Contains("tensor 'x' has shape [1, 1, 2]; a matrix needs 1 or 2 dimensions", ex.Message);
    }

    [Fact]
    public void HandCraftedValidFileWithSpacePaddingAndGapOpens()
    {
        // Trailing-space padding is allowed by the format; a gap between tensors is harmless.
        string json = """{"a": {"dtype": "BF16", "shape": [2], "data_offsets": [4, 8]}}      """;
        string p = RawSafeTensors.Write(_dir, json, 8);
        using var f = SafeTensorsFile.Open(p);
        TensorInfo a = f.Get("a");
        Assert.Equal(8 + json.Length + 4, a.DataOffset);
        Assert.Equal(4, a.ByteLength);
        Assert.Empty(f.Metadata);
    }
}
