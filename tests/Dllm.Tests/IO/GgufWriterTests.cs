using System.Text;
using Dllm.IO;

namespace Dllm.Tests.IO;

/// <summary>The GGUF v3 container byte by byte (the llama.cpp tests load what it writes; this pins the layout).</summary>
public class GgufWriterTests
{
    [Fact]
    public void Writes_header_metadata_tensor_infos_and_aligned_data()
    {
        string path = Path.Combine(TestPaths.TempDir(), "t.gguf");
        new GgufWriter()
            .AddString("general.architecture", "llada")
            .AddUInt32("llada.block_count", 2)
            .AddFloat32("llada.rope.freq_base", 500000f)
            .AddBool("llada.attention.causal", false)
            .AddStringArray("tokenizer.ggml.tokens", ["t0", "t1"])
            .AddInt32Array("tokenizer.ggml.token_type", [1, 1])
            .AddTensor("a", [2, 3], [1, 2, 3, 4, 5, 6])
            .AddTensor("b", [1], [7])
            .Write(path);

        using var r = new BinaryReader(File.OpenRead(path));
        Assert.Equal("GGUF"u8.ToArray(), r.ReadBytes(4));
        Assert.Equal(3u, r.ReadUInt32());
        Assert.Equal(2ul, r.ReadUInt64());
        Assert.Equal(6ul, r.ReadUInt64());
        string Str() => Encoding.UTF8.GetString(r.ReadBytes(checked((int)r.ReadUInt64())));
        Assert.Equal("general.architecture", Str()); Assert.Equal(8u, r.ReadUInt32()); Assert.Equal("llada", Str());
        Assert.Equal("llada.block_count", Str()); Assert.Equal(4u, r.ReadUInt32()); Assert.Equal(2u, r.ReadUInt32());
        Assert.Equal("llada.rope.freq_base", Str()); Assert.Equal(6u, r.ReadUInt32()); Assert.Equal(500000f, r.ReadSingle());
        Assert.Equal("llada.attention.causal", Str()); Assert.Equal(7u, r.ReadUInt32()); Assert.Equal(0, r.ReadByte());
        Assert.Equal("tokenizer.ggml.tokens", Str()); Assert.Equal(9u, r.ReadUInt32()); Assert.Equal(8u, r.ReadUInt32());
        Assert.Equal(2ul, r.ReadUInt64()); Assert.Equal("t0", Str()); Assert.Equal("t1", Str());
        Assert.Equal("tokenizer.ggml.token_type", Str()); Assert.Equal(9u, r.ReadUInt32()); Assert.Equal(5u, r.ReadUInt32());
        Assert.Equal(2ul, r.ReadUInt64()); Assert.Equal(1, r.ReadInt32()); Assert.Equal(1, r.ReadInt32());
        // tensor infos: dims innermost first, type F32 (0), offsets relative to the aligned data start
        Assert.Equal("a", Str()); Assert.Equal(2u, r.ReadUInt32()); Assert.Equal(3ul, r.ReadUInt64()); Assert.Equal(2ul, r.ReadUInt64());
        Assert.Equal(0u, r.ReadUInt32()); Assert.Equal(0ul, r.ReadUInt64());
        Assert.Equal("b", Str()); Assert.Equal(1u, r.ReadUInt32()); Assert.Equal(1ul, r.ReadUInt64());
        Assert.Equal(0u, r.ReadUInt32()); Assert.Equal(32ul, r.ReadUInt64()); // 24 bytes of "a" padded to 32
        long dataStart = (r.BaseStream.Position + 31) / 32 * 32;
        r.BaseStream.Position = dataStart;
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], Enumerable.Range(0, 6).Select(_ => r.ReadSingle()));
        r.BaseStream.Position = dataStart + 32;
        Assert.Equal(7f, r.ReadSingle());
        Assert.Equal(dataStart + 64, r.BaseStream.Length);
    }

    [Fact]
    public void Refuses_duplicates_and_wrong_lengths()
    {
        var g = new GgufWriter().AddUInt32("k", 1).AddTensor("t", [2], [1, 2]);
        Assert.Throws<ArgumentException>(() => g.AddUInt32("k", 2));
        Assert.Throws<ArgumentException>(() => g.AddTensor("t", [2], [1, 2]));
        Assert.Throws<ArgumentException>(() => g.AddTensor("u", [3], [1, 2]));
    }

    [Theory]
    [InlineData("tensor")]
    [InlineData("key")]
    public void A_name_with_control_characters_is_one_line_naming_it(string which)
    {
        // A corrupt file can put a newline in a tensor name or key; the error that names it must stay one line.
        string path = Path.Combine(TestPaths.TempDir(), "c.gguf");
        var g = new GgufWriter().AddString("general.architecture", "llada");
        if (which == "key") g.AddUInt32("llada.block\ncount", 1).AddTensor("a", [1], [1]);
        else g.AddTensor("blk.0\nattn", [1], [1]);
        g.Write(path);
        var e = Assert.Throws<InvalidDataException>(() => { using var f = GgufFile.Open(path); });
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("control characters", e.Message);
        Assert.Contains("\\u000a", e.Message);
    }
}
