using System.Buffers.Binary;
using Dllm.IO;
using Dllm.Model;
using Dllm.Tensors;
using Xunit;

namespace Dllm.Tests.IO;

/// <summary>
/// Dream and LLaDA-MoE GGUFs (llama.cpp's <c>dream</c> and <c>llada-moe</c> layouts): export then load gives back the
/// same model (q/k/v biases, q/k norms, stacked experts sliced in place), a quantized LLaDA-MoE keeps its experts'
/// blocks, and bad files are one line naming the tensor or key.
/// </summary>
public sealed class GgufFamilyTests(ITestOutputHelper output)
{
    private static string Export(string golden)
    {
        string path = Path.Combine(TestPaths.TempDir(), "m.gguf");
        GgufExport.Write(TestPaths.Golden(golden.Split('/')), path);
        return path;
    }

    [Theory]
    [InlineData("qwen/dream-f32", "dream")]
    [InlineData("lladamoe/tiny-qknorm", "llada-moe")]
    public void Exported_family_gguf_loads_with_the_same_logits(string golden, string arch)
    {
        string path = Export(golden);
        using var hf = Transformer.Load(TestPaths.Golden(golden.Split('/')));
        using var gguf = GgufModel.Load(path);
        using (var f = GgufFile.Open(path)) Assert.Equal(arch, f.GetString("general.architecture"));
        ModelConfig a = hf.Config, b = gguf.Config;
        Assert.Equal(a.Family, b.Family);
        Assert.Equal((a.NLayers, a.KvHeads, a.HeadDim, a.MaskTokenId, a.EosTokenId, a.IncludeQkvBias, a.QkNorm, a.ShiftLogits, a.WeightTying),
            (b.NLayers, b.KvHeads, b.HeadDim, b.MaskTokenId, b.EosTokenId, b.IncludeQkvBias, b.QkNorm, b.ShiftLogits, b.WeightTying));
        Assert.Equal((a.Moe?.Experts, a.Moe?.TopK, a.Moe?.ExpertHidden), (b.Moe?.Experts, b.Moe?.TopK, b.Moe?.ExpertHidden));
        double rel = GgufModelTests.MaxRel(hf, gguf, a.MaskTokenId);
        output.WriteLine($"{golden} ({arch}): GGUF vs checkpoint max relative logit difference {rel:E2}");
        Assert.True(rel < 1e-5, $"{rel:E2}");
    }

    [Fact]
    public void Quantized_llada_moe_keeps_its_expert_blocks_through_gguf()
    {
        string q = Path.Combine(TestPaths.TempDir(), "q"), path = Path.Combine(TestPaths.TempDir(), "m.gguf");
        CheckpointQuantizer.Quantize(TestPaths.Golden("lladamoe", "tiny-qknorm"), DType.Q8_0, q);
        GgufExport.Write(q, path);
        using (var f = GgufFile.Open(path))
        {
            Assert.Equal(DType.Q8_0, f.Get("blk.0.ffn_gate_exps.weight").DType);
            Assert.Equal(DType.Q8_0, f.Get("blk.1.ffn_up_exps.weight").DType);
            Assert.Equal(DType.F32, f.Get("blk.0.ffn_down_exps.weight").DType); // rows of 16: not whole blocks, kept
            Assert.Equal(DType.F32, f.Get("blk.0.ffn_gate_inp.weight").DType);  // the router is never quantized
        }
        using var dllm = Transformer.Load(q);
        using var gguf = GgufModel.Load(path);
        Assert.Equal(DType.Q8_0, gguf.Weights.Blocks[1].Moe!.Experts[7].Up.DType);
        double rel = GgufModelTests.MaxRel(dllm, gguf, dllm.Config.MaskTokenId);
        output.WriteLine($"Q8_0 LLaDA-MoE: GGUF vs checkpoint max relative logit difference {rel:E2}");
        Assert.True(rel < 1e-5, $"{rel:E2}");
    }

    /// <summary>Offset just after the first occurrence of <paramref name="name"/> (a tensor info's name: n_dims follows).</summary>
    private static int After(byte[] file, string name)
    {
        int i = file.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(name));
        Assert.True(i > 0, name);
        return i + name.Length;
    }

    private static string Fails<T>(string path, byte[] bytes) where T : Exception
    {
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<T>(() => GgufModel.Load(path).Dispose());
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(path, e.Message);
        return e.Message;
    }

    [Fact]
    public void Dream_file_missing_a_bias_is_named()
    {
        string path = Export("qwen/dream-f32");
        byte[] b = File.ReadAllBytes(path);
        b[After(b, "blk.1.attn_k.bias") - 1] = (byte)'x'; // renamed: the bias is missing (and an unknown tensor appears)
        Assert.Contains("tensor 'blk.1.attn_k.bias' is missing", Fails<InvalidDataException>(path, b));
    }

    [Fact]
    public void Llada_moe_expert_tensor_of_the_wrong_shape_is_named()
    {
        string path = Export("lladamoe/tiny-qknorm");
        byte[] b = File.ReadAllBytes(path);
        int at = After(b, "blk.0.ffn_up_exps.weight"); // n_dims u32, then ne = {32, 16, 8}
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at)));
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at + 4 + 16), 4); // 4 experts instead of 8
        Assert.Contains("tensor 'blk.0.ffn_up_exps.weight' has shape [4, 16, 32], expected [8, 16, 32]", Fails<InvalidDataException>(path, b));
    }

    [Fact]
    public void Llada_moe_missing_q_norm_or_router_is_named()
    {
        string path = Export("lladamoe/tiny-qknorm");
        byte[] good = File.ReadAllBytes(path), b = (byte[])good.Clone();
        b[After(b, "blk.1.attn_k_norm.weight") - 1] = (byte)'x';
        Assert.Contains("tensor 'blk.1.attn_k_norm.weight' is missing", Fails<InvalidDataException>(path, b));
        b = (byte[])good.Clone();
        b[After(b, "blk.0.ffn_gate_inp.weight") - 1] = (byte)'x';
        Assert.Contains("tensor 'blk.0.ffn_gate_inp.weight' is missing", Fails<InvalidDataException>(path, b));
    }

    [Theory]
    [InlineData("expert_weights_norm", "expert_weights_norm is true")]
    [InlineData("expert_gating_func", "expert_gating_func 2 is not softmax")]
    [InlineData("expert_shared_count", "expert_shared_count is 1")]
    public void Llada_moe_gating_dllm_does_not_run_is_refused_by_key(string key, string message)
    {
        string dir = TestPaths.Golden("lladamoe", "tiny-qknorm"), path = Path.Combine(TestPaths.TempDir(), "m.gguf");
        ModelConfig c = ModelConfig.Load(Path.Combine(dir, "config.json"));
        using (var ckpt = Checkpoint.Open(dir))
        {
            GgufWriter g = GgufExport.Build(c, ckpt);
            if (key == "expert_weights_norm") g.AddBool("llada-moe." + key, true);
            else g.AddUInt32("llada-moe." + key, key == "expert_gating_func" ? 2u : 1u);
            g.Write(path);
        }
        var e = Assert.Throws<NotSupportedException>(() => GgufModel.Load(path).Dispose());
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_missing_expert_count_is_named()
    {
        string dir = TestPaths.Golden("lladamoe", "tiny-qknorm"), path = Path.Combine(TestPaths.TempDir(), "m.gguf");
        byte[] b = File.ReadAllBytes(Export("lladamoe/tiny-qknorm"));
        b[After(b, "llada-moe.expert_count") - 1] = (byte)'x';
        Assert.Contains("metadata 'llada-moe.expert_count' is missing", Fails<InvalidDataException>(path, b));
    }
}
