using System.Buffers.Binary;
using Dllm.IO;
using Dllm.Model;
using Dllm.Tensors;
using Xunit;

namespace Dllm.Tests.IO;

/// <summary>
/// GGUF in: <see cref="GgufExport"/> then <see cref="GgufModel.Load"/> gives back the model (q/k permutation undone,
/// F32 and quantized tensors used in place), and bad files are one clear line naming the problem.
/// </summary>
public sealed class GgufModelTests(ITestOutputHelper output)
{
    /// <summary>Max |a − b| relative to max |a| on one random canvas of <paramref name="length"/> tokens, a third masked;
    /// the GGUF stores rope base and eps as f32, which moves logits ~1e-7.</summary>
    internal static double MaxRel(IDenoisingModel a, IDenoisingModel b, int mask, int length = 24, int seed = 3)
    {
        var rng = new Random(seed);
        int v = a.VocabSize;
        int[] tokens = [.. Enumerable.Range(0, length).Select(_ => rng.Next(3) == 0 ? mask : rng.Next(Math.Min(v, mask)))];
        int[] positions = [.. Enumerable.Range(0, length)];
        float[] x = new float[length * v], y = new float[length * v];
        a.Logits(tokens, 1, length, positions, x);
        b.Logits(tokens, 1, length, positions, y);
        double scale = x.Max(t => Math.Abs((double)t)), diff = 0;
        for (int i = 0; i < x.Length; i++) diff = Math.Max(diff, Math.Abs((double)x[i] - y[i]));
        return diff / scale;
    }

    [Theory]
    [InlineData("tiny-f32")]
    [InlineData("tiny-bf16-gqa")]
    [InlineData("tiny-tied")]
    public void Exported_gguf_loads_with_the_same_logits(string golden)
    {
        string dir = TestPaths.Golden(golden), path = Path.Combine(TestPaths.TempDir(), "m.gguf");
        GgufExport.Write(dir, path);
        using var hf = Transformer.Load(dir);
        using var gguf = GgufModel.Load(path);
        Assert.Equal(hf.Config.NLayers, gguf.Config.NLayers);
        Assert.Equal(hf.Config.KvHeads, gguf.Config.KvHeads);
        Assert.Equal(hf.Config.MaskTokenId, gguf.Config.MaskTokenId);
        Assert.True(MaxRel(hf, gguf, hf.Config.MaskTokenId) < 1e-5);
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_0")]
    [InlineData("q4_k")]
    public void Quantized_checkpoint_round_trips_through_gguf_byte_for_byte(string type)
    {
        string q = Path.Combine(TestPaths.TempDir(), "q"), path = Path.Combine(TestPaths.TempDir(), "m.gguf");
        CheckpointQuantizer.Quantize(CheckpointQuantizerTests.BundledMdm(), CheckpointQuantizer.ParseType(type), q);
        GgufExport.Write(q, path);
        using (var f = GgufFile.Open(path))
        {
            Assert.Equal(CheckpointQuantizer.ParseType(type), f.Get("blk.0.attn_q.weight").DType);
            Assert.Equal(DType.Q8_0, f.Get("token_embd.weight").DType);
            Assert.Equal(DType.F32, f.Get("blk.0.attn_norm.weight").DType);
        }
        using var dllm = Transformer.Load(q);
        using var gguf = GgufModel.Load(path);
        Assert.Equal(CheckpointQuantizer.ParseType(type), gguf.Weights.Blocks[1].K.DType);
        double rel = MaxRel(dllm, gguf, dllm.Config.MaskTokenId);
        output.WriteLine($"{type}: GGUF vs checkpoint max relative logit difference {rel:E2}");
        Assert.True(rel < 1e-5, $"{rel:E2}");
        // Packed at load, the permuted q/k are un-permuted by the packing; unpacked, by copies: the same logits exactly.
        Transformer.PackWeightsAtLoad = false;
        try
        {
            using var copies = GgufModel.Load(path);
            Assert.Equal(0, MaxRel(gguf, copies, dllm.Config.MaskTokenId));
        }
        finally { Transformer.PackWeightsAtLoad = true; }
    }

    [Fact]
    public void Unpermute_inverts_the_exporters_permutation()
    {
        int heads = 3, hd = 8, cols = 2;
        float[] w = [.. Enumerable.Range(0, heads * hd * cols).Select(i => (float)i)];
        float[] p = GgufExport.PermuteRows(w, heads, hd, cols);
        for (int r = 0; r < heads * hd; r++)
            Assert.Equal(w.AsSpan(r * cols, cols).ToArray(), p.AsSpan(GgufExport.UnpermuteRow(r, hd) * cols, cols).ToArray());
    }

    private static byte[] TinyGguf(out string path)
    {
        path = Path.Combine(TestPaths.TempDir(), "m.gguf");
        GgufExport.Write(TestPaths.Golden("tiny-f32"), path);
        return File.ReadAllBytes(path);
    }

    /// <summary>Byte offset just after the tensor infos' name string of <paramref name="name"/> (its n_dims field).</summary>
    private static int After(byte[] file, string name)
    {
        byte[] key = System.Text.Encoding.UTF8.GetBytes(name);
        int i = file.AsSpan().IndexOf(key);
        Assert.True(i > 0);
        // the metadata has no such string, so the first hit is the tensor info
        return i + key.Length;
    }

    [Fact]
    public void Bad_files_get_one_line_naming_the_problem()
    {
        byte[] good = TinyGguf(out string path);
        string Fails<T>(byte[] bytes) where T : Exception
        {
            File.WriteAllBytes(path, bytes);
            var e = Assert.Throws<T>(() => GgufModel.Load(path).Dispose());
            Assert.DoesNotContain('\n', e.Message);
            Assert.Contains(path, e.Message);
            return e.Message;
        }
        byte[] b = (byte[])good.Clone(); b[0] = (byte)'X';
        Assert.Contains("bad magic", Fails<InvalidDataException>(b));
        b = (byte[])good.Clone(); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 1);
        Assert.Contains("version 1", Fails<InvalidDataException>(b));
        Assert.Contains("truncated", Fails<InvalidDataException>(good[..(good.Length / 3)]));
        Assert.Contains("truncated", Fails<InvalidDataException>(good[..(good.Length - 40)])); // the last tensor's data cut
        int at = After(good, "blk.0.ffn_up.weight"); // n_dims u32, 2 dims u64, type u32
        b = (byte[])good.Clone(); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at + 4 + 16), 11);
        Assert.Contains("Q3_K", Fails<NotSupportedException>(b));
        b = (byte[])good.Clone(); BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at + 4 + 16 + 4), 1UL << 40);
        Assert.Contains("beyond the end of the file", Fails<InvalidDataException>(b));
        b = (byte[])good.Clone(); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), 7);
        Assert.Contains("7 dimensions", Fails<InvalidDataException>(b));
        b = (byte[])good.Clone(); int arch = b.AsSpan().IndexOf("llada"u8); b[arch] = (byte)'x';
        Assert.Contains("architecture 'xlada' is not supported", Fails<NotSupportedException>(b));
        Assert.Contains("too short", Fails<InvalidDataException>([]));
    }

    [Fact]
    public void A_missing_or_extra_tensor_is_named()
    {
        string dir = TestPaths.Golden("tiny-f32"), path = Path.Combine(TestPaths.TempDir(), "m.gguf");
        ModelConfig c = ModelConfig.Load(Path.Combine(dir, "config.json"));
        using (var ckpt = Checkpoint.Open(dir))
        {
            GgufWriter g = GgufExport.Build(c, ckpt);
            g.AddTensor("blk.99.attn_q.weight", [32], new float[32]);
            g.Write(path);
        }
        Assert.Contains("'blk.99.attn_q.weight' is not part of the llada model", Assert.Throws<InvalidDataException>(() => GgufModel.Load(path).Dispose()).Message);
    }
}
