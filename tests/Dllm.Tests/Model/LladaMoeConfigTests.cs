using System.Text.Json;
using Dllm.IO;
using Dllm.Model;

namespace Dllm.Tests.Model;

/// <summary>
/// LLaDA-MoE's config.json dialect: the published field names read into a <see cref="ModelConfig"/> with a
/// <see cref="MoeConfig"/>, written back with the fields Dllm does not model kept, and bad input refused
/// with one message naming the field and the file.
/// </summary>
public sealed class LladaMoeConfigTests
{
    private readonly string _dir = TestPaths.TempDir();

    private static string GoldenConfig(string model = "tiny") => TestPaths.Golden("lladamoe", model, "config.json");

    /// <summary>The tiny golden config with one piece of JSON text replaced.</summary>
    private string With(string from, string to)
    {
        string json = File.ReadAllText(GoldenConfig());
        Assert.Contains(from, json);
        string p = Path.Combine(_dir, "config.json");
        File.WriteAllText(p, json.Replace(from, to));
        return p;
    }

    [Fact]
    public void Reads_the_published_field_names()
    {
        ModelConfig c = ModelConfig.Load(GoldenConfig("tiny-shared"));
        Assert.Equal(ModelFamily.LladaMoe, c.Family);
        Assert.Equal((32, 4, 4, 3, 48, 61), (c.DModel, c.NHeads, c.KvHeads, c.NLayers, c.MlpHiddenSize, c.VocabSize));
        Assert.Equal((59, 59, 60), (c.EosTokenId, c.PadTokenId, c.MaskTokenId));
        Assert.Equal((50000.0, 1e-5, 256), (c.RopeTheta, c.RmsNormEps, c.MaxSequenceLength));
        Assert.True(c.WeightTying);
        Assert.Equal(ModelKind.MaskedDiffusion, c.Kind);
        Assert.Equal(AttentionKind.Bidirectional, c.Attention);
        Assert.False(c.ShiftLogits);
        MoeConfig m = c.Moe!;
        Assert.Equal((8, 3, 12, 24, true, 0.01), (m.Experts, m.TopK, m.ExpertHidden, m.SharedExpertHidden, m.ExpertBias, m.AuxLossCoef));
        Assert.Equal([0, 1, 1], m.LayerFreq);
        Assert.Equal(2, m.MoeLayerCount);
        Assert.Equal(2L * (8 - 3) * 3 * 32 * 12, m.InactiveParametersPerToken(c.DModel));
        Assert.Equal("model.layers.1.self_attn.o_proj.weight", string.Format(c.Names.Block, 1) + c.Names.AttnOut);
    }

    [Fact]
    public void Writes_back_what_it_read_keeping_the_fields_it_does_not_model()
    {
        ModelConfig c = ModelConfig.Load(GoldenConfig("tiny-shared"));
        string p = Path.Combine(_dir, "config.json");
        c.Save(p);
        using JsonDocument original = JsonDocument.Parse(File.ReadAllText(GoldenConfig("tiny-shared")));
        using JsonDocument written = JsonDocument.Parse(File.ReadAllText(p));
        foreach (JsonProperty f in original.RootElement.EnumerateObject())
        {
            Assert.True(written.RootElement.TryGetProperty(f.Name, out JsonElement w), $"{f.Name} was dropped");
            if (f.Value.ValueKind == JsonValueKind.Number) Assert.Equal(f.Value.GetDouble(), w.GetDouble());
            else Assert.Equal(f.Value.GetRawText().Replace(" ", "").Replace("\n", ""), w.GetRawText().Replace(" ", "").Replace("\n", "").Replace("\r", ""));
        }
        ModelConfig back = ModelConfig.Load(p);
        Assert.Equal(c with { SourcePath = null, Moe = null, Extra = null, Architectures = null }, back with { SourcePath = null, Moe = null, Extra = null, Architectures = null });
        Assert.Equal(c.Architectures, back.Architectures);
        Assert.Equal(c.Moe! with { LayerFreq = [] }, back.Moe! with { LayerFreq = [] });
    }

    [Fact]
    public void Accepts_dllm_s_renamed_model_type_and_defaults_the_mask_to_the_published_tokenizer_s()
    {
        Assert.Equal(ModelFamily.LladaMoe, ModelConfig.Load(With("\"model_type\": \"llada\"", "\"model_type\": \"lladamoe\"")).Family);
        ModelConfig c = ModelConfig.Load(With("\"mask_token_id\": 60,", ""), validate: false);
        Assert.Equal(LladaMoeConfig.DefaultMaskTokenId, c.MaskTokenId);
    }

    [Theory]
    [InlineData("\"num_experts_per_tok\": 2", "\"num_experts_per_tok\": 9", "num_experts_per_tok must lie in 1..num_experts (8), found 9")]
    [InlineData("\"num_experts\": 8", "\"num_experts\": 0", "num_experts must be positive")]
    [InlineData("\"expert_intermediate_size\": 16", "\"expert_intermediate_size\": -1", "expert_intermediate_size must be positive")]
    [InlineData("\"shared_expert_intermediate_size\": null", "\"shared_expert_intermediate_size\": -1", "shared_expert_intermediate_size must be positive or null")]
    [InlineData("\"moe_layer_freq\": [\n    1,\n    1\n  ]", "\"moe_layer_freq\": [1]", "moe_layer_freq has 1 entries, expected one per layer (2)")]
    [InlineData("\"router_aux_loss_coef\": 0.01", "\"router_aux_loss_coef\": -1", "router_aux_loss_coef must be finite and ≥ 0")]
    [InlineData("\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"yarn\"}", "rope_scaling is unsupported")]
    [InlineData("\"partial_rotary_factor\": 1.0", "\"partial_rotary_factor\": 0.5", "partial_rotary_factor 0.5 is unsupported")]
    [InlineData("\"attention_bias\": false", "\"attention_bias\": true", "attention_bias true is unsupported")]
    [InlineData("\"clip_qkv\": null", "\"clip_qkv\": 8", "clip_qkv 8 is unsupported")]
    [InlineData("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "unsupported hidden_act 'gelu'")]
    [InlineData("\"num_experts\": 8,", "", "num_experts")]
    public void Bad_input_is_refused_naming_the_field_and_the_file(string from, string to, string message)
    {
        string p = With(from, to);
        var e = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(p));
        Assert.Contains(message, e.Message);
        Assert.Contains(p, e.Message);
    }

    [Fact]
    public void A_dense_layer_needs_a_dense_width()
    {
        string p = With("\"moe_layer_freq\": [\n    1,\n    1\n  ]", "\"moe_layer_freq\": [0, 1]");
        Assert.True(ModelConfig.Load(p).Moe!.HasDenseLayer); // the file's dense_intermediate_size 64 serves it
        File.WriteAllText(p, File.ReadAllText(p).Replace("\"dense_intermediate_size\": 64", "\"dense_intermediate_size\": -1"));
        Assert.Contains("dense_intermediate_size must be positive, found -1", Assert.Throws<InvalidDataException>(() => ModelConfig.Load(p)).Message);
    }

    [Fact]
    public void A_missing_expert_tensor_is_an_error_naming_it()
    {
        string src = TestPaths.Golden("lladamoe", "tiny");
        File.Copy(Path.Combine(src, "config.json"), Path.Combine(_dir, "config.json"));
        using (var f = SafeTensorsFile.Open(Path.Combine(src, "model.safetensors")))
            SafeTensorsWriter.Write(Path.Combine(_dir, "model.safetensors"), f.Tensors.Values
                .Where(t => t.Name != "model.layers.1.mlp.experts.5.down_proj.weight")
                .Select(t => SafeTensorsWriter.Entry.FromSingle(t.Name, t.Shape, f.ReadSingle(t.Name))).ToList());
        Exception e = Assert.ThrowsAny<Exception>(() => Transformer.Load(_dir));
        Assert.Contains("model.layers.1.mlp.experts.5.down_proj.weight", e.Message);
    }

    [Fact]
    public void Experts_outside_the_mixture_of_experts_families_are_refused()
    {
        ModelConfig dense = Training.ModelGradientTests.Tiny(kvHeads: 1);
        Assert.Contains("experts need a mixture-of-experts layout (LLaDA-MoE, LLaDA2); the LLaDA family has none", Assert.Throws<InvalidDataException>(
            () => (dense with { Moe = MoeConfig.Create(2, 4, 2, 6) }).Validate()).Message);
        ModelConfig llada2 = dense.WithFamily(ModelFamily.Llada2).As(ModelKind.BlockDiffusion, 4);
        Assert.Contains("LLaDA2's experts need its sigmoid router", Assert.Throws<InvalidDataException>(
            () => (llada2 with { Moe = MoeConfig.Create(2, 4, 2, 6) }).Validate()).Message);
        Assert.Contains("needs its experts", Assert.Throws<InvalidDataException>(
            () => (dense with { Family = ModelFamily.LladaMoe, Architectures = [LladaMoeConfig.Architecture] }).Validate()).Message);
    }
}
