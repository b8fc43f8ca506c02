using System.Text.Json;
using Dllm.Model;
using Xunit;

namespace Dllm.Tests.Model;

/// <summary>
/// The Hugging Face config.json dialect (Qwen2 / Qwen2.5, Qwen3, Dream, LLaDA2's extras): published configs read with
/// their real field names, absent fields take the Python config classes' defaults, what Dllm does not
/// implement is refused naming the field and file, and a written config reads back the same.
/// </summary>
public sealed class HfConfigDialectTests
{
    private readonly string _dir = TestPaths.TempDir();

    private string Write(string json)
    {
        string p = Path.Combine(_dir, "config.json");
        File.WriteAllText(p, json);
        return p;
    }

    /// <summary>A published config (<paramref name="file"/> under tests/golden) with one field's JSON replaced (by text substitution).</summary>
    private string Published(string file, string from, string to)
    {
        string json = File.ReadAllText(TestPaths.Golden(file.Split('/')));
        Assert.Contains(from, json);
        return Write(json.Replace(from, to));
    }

    [Fact]
    public void Qwen25_config_is_an_autoregressive_causal_lm_with_qkv_biases()
    {
        ModelConfig c = ModelConfig.Load(TestPaths.Golden("configs", "qwen2.5-0.5b-instruct-config.json"));
        Assert.Equal(ModelFamily.Qwen2, c.Family);
        Assert.Equal((896, 14, 2, 24, 4864, 151936), (c.DModel, c.NHeads, c.KvHeads, c.NLayers, c.MlpHiddenSize, c.VocabSize));
        Assert.Equal(64, c.HeadDim);
        Assert.Null(c.ExplicitHeadDim);
        Assert.Equal((32768, 1e6, 1e-6), (c.MaxSequenceLength, c.RopeTheta, c.RmsNormEps));
        Assert.True(c.WeightTying);
        Assert.Equal((true, false, false, false), (c.IncludeQkvBias, c.IncludeOutBias, c.QkNorm, c.ShiftLogits));
        Assert.Equal((ModelKind.Autoregressive, AttentionKind.Causal), (c.Kind, c.Attention));
        Assert.Equal((151643, 151645, ModelConfig.NoToken, ModelConfig.NoToken), (c.BosTokenId, c.EosTokenId, c.PadTokenId, c.MaskTokenId));
        Assert.Equal("bfloat16", c.Extra!["torch_dtype"].GetString());
        Assert.Equal(32768, c.Extra["sliding_window"].GetInt32()); // use_sliding_window is false: unused, kept
        Assert.Equal("model.layers.{0}.", c.Names.Block);
    }

    [Fact]
    public void Qwen3_config_has_q_k_norm_and_its_own_head_dim()
    {
        ModelConfig c = ModelConfig.Load(TestPaths.Golden("configs", "qwen3-0.6b-config.json"));
        Assert.Equal(ModelFamily.Qwen3, c.Family);
        Assert.Equal(128, c.HeadDim); // hidden_size / heads would be 64
        Assert.Equal((1024, 16, 8, 28, 3072), (c.DModel, c.NHeads, c.KvHeads, c.NLayers, c.MlpHiddenSize));
        Assert.Equal((true, false, false), (c.QkNorm, c.IncludeQkvBias, c.IncludeOutBias));
        Assert.Equal((40960, 1e6), (c.MaxSequenceLength, c.RopeTheta));
        Assert.Equal(ModelKind.Autoregressive, c.Kind);
        Assert.False(c.Extra!.ContainsKey("head_dim"));
        Assert.True(c.Extra.ContainsKey("rope_scaling"));
    }

    [Fact]
    public void Dream_config_is_masked_diffusion_with_shifted_logits()
    {
        ModelConfig c = ModelConfig.Load(TestPaths.Golden("configs", "dream-v0-instruct-7b-config.json"));
        Assert.Equal(ModelFamily.Dream, c.Family);
        Assert.Equal((3584, 28, 4, 128, 152064), (c.DModel, c.NHeads, c.KvHeads, c.HeadDim, c.VocabSize));
        Assert.Equal((ModelKind.MaskedDiffusion, AttentionKind.Bidirectional), (c.Kind, c.Attention));
        Assert.True(c.ShiftLogits);
        Assert.Equal((151666, 151643, 151643), (c.MaskTokenId, c.EosTokenId, c.PadTokenId));
        Assert.True(c.Extra!.ContainsKey("auto_map"));
    }

    [Theory]
    [InlineData("Qwen2ForCausalLM", "qwen2", 128, null)]
    [InlineData("Qwen3ForCausalLM", "qwen3", 128, 128)]
    [InlineData("DreamModel", "Dream", 128, null)]
    public void Absent_fields_take_the_python_class_defaults(string arch, string modelType, int headDim, int? explicitHeadDim)
    {
        ModelConfig c = ModelConfig.Load(Write($$"""{"architectures": ["{{arch}}"], "model_type": "{{modelType}}"}"""));
        Assert.Equal((4096, 32, 32, 32, 22016, 151936), (c.DModel, c.NHeads, c.KvHeads, c.NLayers, c.MlpHiddenSize, c.VocabSize));
        Assert.Equal((headDim, explicitHeadDim), (c.HeadDim, c.ExplicitHeadDim));
        Assert.Equal((32768, 10000.0, 1e-6, false), (c.MaxSequenceLength, c.RopeTheta, c.RmsNormEps, c.WeightTying));
        Assert.Null(c.BosTokenId);
        Assert.Equal(ModelConfig.NoToken, c.EosTokenId);
        Assert.Equal(arch == "DreamModel" ? (151643, 151666) : (ModelConfig.NoToken, ModelConfig.NoToken), (c.PadTokenId, c.MaskTokenId));
    }

    [Fact]
    public void Null_kv_heads_mean_num_attention_heads_and_model_type_alone_names_the_family()
    {
        ModelConfig c = ModelConfig.Load(Write("""{"model_type": "qwen3", "num_attention_heads": 8, "num_key_value_heads": null, "head_dim": null, "hidden_size": 64}"""));
        Assert.Equal(ModelFamily.Qwen3, c.Family);
        Assert.Equal(["Qwen3ForCausalLM"], c.Architectures!);
        Assert.Equal((8, 8), (c.KvHeads, c.HeadDim));
    }

    [Fact]
    public void Newer_spellings_rope_parameters_and_a_list_of_eos_ids()
    {
        ModelConfig c = ModelConfig.Load(Write("""
            {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 64, "num_attention_heads": 4,
             "num_key_value_heads": 2, "head_dim": 16, "rope_parameters": {"rope_type": "default", "rope_theta": 5000.0}, "eos_token_id": [151645, 151643]}
            """));
        Assert.Equal(5000.0, c.RopeTheta);
        Assert.Equal(151645, c.EosTokenId);
        string p = Path.Combine(_dir, "back.json");
        c.Save(p);
        Assert.Equal(5000.0, ModelConfig.Load(p).RopeTheta);
        Assert.DoesNotContain("\"rope_theta\": 5000", File.ReadAllText(p).Split("rope_parameters")[0]); // kept nested
    }

    [Theory]
    [InlineData(Qwen3, "\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0}", "rope_scaling type 'yarn'")]
    [InlineData(Qwen3, "\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2.0}", "rope_scaling type 'linear'")]
    [InlineData(Qwen3, "\"max_window_layers\": 28", "\"max_window_layers\": 28, \"layer_types\": [\"full_attention\", \"sliding_attention\"]", "layer_types entry 'sliding_attention'")]
    [InlineData(Qwen3, "\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "unsupported hidden_act 'gelu'")]
    [InlineData(Qwen3, "\"model_type\": \"qwen3\"", "\"model_type\": \"qwen2\"", "model_type 'qwen2'")]
    [InlineData(Qwen3, "\"hidden_size\": 1024", "\"hidden_size\": \"big\"", "hidden_size")]
    [InlineData(Qwen3, "\"num_key_value_heads\": 8", "\"num_key_value_heads\": 5", "num_attention_heads 16 is not divisible by num_key_value_heads 5")]
    [InlineData(Qwen3, "\"head_dim\": 128", "\"head_dim\": 127", "head dim 127 is odd")]
    [InlineData(Qwen3, "\"eos_token_id\": 151645", "\"eos_token_id\": 200000", "eos_token_id 200000 is outside the embedding table")]
    [InlineData(Qwen3, "\"eos_token_id\": 151645", "\"eos_token_id\": \"end\"", "eos_token_id")]
    [InlineData(Qwen3, "\"max_window_layers\": 28", "\"max_window_layers\": 28, \"model_kind\": \"masked_diffusion\"", "no mask_token_id")]
    [InlineData(Qwen3, "\"max_window_layers\": 28", "\"max_window_layers\": 28, \"partial_rotary_factor\": 0.5", "partial_rotary_factor 0.5")]
    [InlineData(Llada2, "\"norm_head\": false", "\"norm_head\": true", "norm_head true is unsupported")]
    [InlineData(Llada2, "\"score_function\": \"sigmoid\"", "\"score_function\": \"softmax\"", "score_function 'softmax' is unsupported")]
    [InlineData(Llada2, "\"use_rmsnorm\": true", "\"use_rmsnorm\": false", "use_rmsnorm false is unsupported")]
    [InlineData(Llada2, "\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0}", "rope_scaling type 'yarn'")]
    [InlineData(Llada2, "\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "unsupported hidden_act 'gelu'")]
    [InlineData(Llada2, "\"partial_rotary_factor\": 0.5", "\"partial_rotary_factor\": 0.375", "partial_rotary_factor 0.375 × head dim 8 gives 3 rotary dims")]
    [InlineData(Llada2, "\"partial_rotary_factor\": 0.5", "\"partial_rotary_factor\": 1.5", "partial_rotary_factor 1.5")]
    [InlineData(Llada2, "\"n_group\": 4", "\"n_group\": 3", "n_group must divide num_experts (8), found 3")]
    [InlineData(Llada2, "\"num_shared_experts\": 1", "\"num_shared_experts\": -1", "num_shared_experts must be ≥ 0 or null, found -1")]
    [InlineData(Llada2, "\"moe_intermediate_size\": 16", "\"moe_intermediate_size\": 0", "moe_intermediate_size must be positive, found 0")]
    [InlineData(Llada2, "\"use_bias\": true", "\"use_bias\": \"yes\"", "use_bias")]
    [InlineData(Llada2, "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3", "num_attention_heads 4 is not divisible by num_key_value_heads 3")]
    [InlineData(Llada2, "\"model_type\": \"llada2_moe\"", "\"model_type\": \"llada\"", "model_type 'llada'")]
    public void Unsupported_or_bad_fields_are_refused_naming_field_and_file(string file, string from, string to, string expected)
    {
        string p = Published(file, from, to);
        var ex = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(p));
        Assert.Contains(expected, ex.Message);
        Assert.Contains(p, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    private const string Qwen3 = "configs/qwen3-0.6b-config.json", Llada2 = "blockdiff/llada2-mini/config.json";

    [Fact]
    public void Llada2_absent_fields_take_the_LLaDA2MoeConfig_defaults()
    {
        // configuration_llada2_moe.py's keyword defaults; generate()'s block_length, mask_id and eos_id for what the config lacks.
        ModelConfig c = ModelConfig.Load(Write("""{"architectures": ["LLaDA2MoeModelLM"], "model_type": "llada2_moe"}"""), validate: false);
        Assert.Equal(ModelFamily.Llada2, c.Family);
        Assert.Equal((1024, 16, 0, 24, 0, 30592), (c.DModel, c.NHeads, c.KvHeads, c.NLayers, c.MlpHiddenSize, c.VocabSize));
        Assert.Equal((64, 32, (int?)null), (c.HeadDim, c.RopeDim, c.ExplicitHeadDim));
        Assert.Equal((16384, 10000.0, 1e-5, false), (c.MaxSequenceLength, c.RopeTheta, c.RmsNormEps, c.WeightTying));
        Assert.Equal((false, true, true), (c.IncludeQkvBias, c.IncludeOutBias, c.QkNorm));
        Assert.Equal((156892, 126081, 156895), (c.EosTokenId, c.PadTokenId, c.MaskTokenId));
        Assert.Equal((ModelKind.BlockDiffusion, 32), (c.Kind, c.BlockSize));
        MoeConfig m = c.Moe!;
        Assert.Equal((16, 2, 0, 0, 8, 4, 2.5), (m.Experts, m.TopK, m.ExpertHidden, m.SharedExpertHidden, m.Groups, m.TopKGroups, m.RoutedScalingFactor));
        Assert.All(m.LayerFreq, f => Assert.Equal(1, f)); // first_k_dense_replace 0
        // The class default of num_key_value_heads, 0, is not a model (the published attention divides by it).
        Assert.Contains("num_key_value_heads must be positive, found 0", Assert.Throws<InvalidDataException>(() => c.Validate()).Message);
    }

    [Fact]
    public void Llada2_null_experts_are_dense_layers_and_head_dim_0_is_derived()
    {
        // LLaDA2MoeDecoderLayer: an MoE block only when num_experts is not None; LLaDA2MoeConfig: head_dim or hidden // heads.
        ModelConfig c = ModelConfig.Load(Write("""
            {"architectures": ["LLaDA2MoeModelLM"], "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 0,
             "intermediate_size": 96, "num_hidden_layers": 2, "vocab_size": 200, "num_experts": null, "first_k_dense_replace": 1,
             "partial_rotary_factor": 1.0, "use_bias": false, "eos_token_id": 1, "pad_token_id": 1, "mask_token_id": 199}
            """));
        Assert.Null(c.Moe);
        Assert.Equal((16, 16, 96, false), (c.HeadDim, c.RopeDim, c.DenseMlpHidden, c.IncludeOutBias));
        Assert.Equal(1, c.Extra!["first_k_dense_replace"].GetInt32()); // unread without experts, kept
        string p = Path.Combine(_dir, "back.json");
        c.Save(p);
        Assert.Null(ModelConfig.Load(p).Moe);
    }

    [Fact]
    public void A_sliding_window_no_layer_uses_is_accepted_and_Dream_ignores_it()
    {
        // Qwen2 slides layers ≥ max_window_layers only; Dream's SDPA attention never slides.
        string p = Published("configs/qwen2.5-0.5b-instruct-config.json", "\"use_sliding_window\": false", "\"use_sliding_window\": true");
        Assert.Contains("layers 21..23 would attend to a 32768-token window", Assert.Throws<InvalidDataException>(() => ModelConfig.Load(p)).Message);
        File.WriteAllText(p, File.ReadAllText(p).Replace("\"max_window_layers\": 21", "\"max_window_layers\": 24"));
        Assert.True(ModelConfig.Load(p).Extra!["use_sliding_window"].GetBoolean());
        ModelConfig.Load(Published("configs/dream-v0-instruct-7b-config.json", "\"use_sliding_window\": false", "\"use_sliding_window\": true"));
    }

    [Theory]
    [InlineData("configs/qwen2.5-0.5b-instruct-config.json")]
    [InlineData("configs/qwen3-0.6b-config.json")]
    [InlineData("configs/dream-v0-instruct-7b-config.json")]
    [InlineData(Llada2)] // its tiny vocabulary lacks the default mask id: read without validation
    public void Written_configs_keep_every_field_and_read_back_the_same(string file)
    {
        ModelConfig c = ModelConfig.Load(TestPaths.Golden(file.Split('/')), validate: file != Llada2);
        string p = Path.Combine(_dir, "written.json");
        c.Save(p);
        ModelConfig back = ModelConfig.Load(p, validate: file != Llada2);
        Assert.Equal(c.ToJson(), back.ToJson());
        Assert.Equal(c with { SourcePath = null, Extra = null, Architectures = null, Moe = null }, back with { SourcePath = null, Extra = null, Architectures = null, Moe = null });
        Assert.Equivalent(c.Moe, back.Moe, strict: true);
        using var original = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden(file.Split('/'))));
        using var written = JsonDocument.Parse(File.ReadAllText(p));
        string[] keys = written.RootElement.EnumerateObject().Select(x => x.Name).ToArray();
        Assert.Equal(keys.Order(StringComparer.Ordinal), keys); // sorted, as transformers writes them
        foreach (JsonProperty f in original.RootElement.EnumerateObject())
        {
            Assert.True(written.RootElement.TryGetProperty(f.Name, out JsonElement w), $"{f.Name} was dropped");
            if (f.Value.ValueKind == JsonValueKind.Number) Assert.Equal(f.Value.GetDouble(), w.GetDouble());
            else Assert.Equal(f.Value.GetRawText().Replace(" ", "").Replace("\n", ""), w.GetRawText().Replace(" ", "").Replace("\n", "").Replace("\r", ""));
        }
    }

    [Fact]
    public void A_diffusion_adapted_qwen_carries_dllm_fields_and_a_mask_id()
    {
        ModelConfig c = ModelConfig.Load(TestPaths.Golden("configs", "qwen3-0.6b-config.json")).As(ModelKind.BlockDiffusion, 4) with { MaskTokenId = 151669 };
        string p = Path.Combine(_dir, "adapted.json");
        c.Save(p);
        string json = File.ReadAllText(p);
        Assert.Contains("\"model_kind\": \"block_diffusion\"", json);
        Assert.Contains("\"attention\": \"block_causal\"", json);
        Assert.Contains("\"block_size\": 4", json);
        ModelConfig back = ModelConfig.Load(p);
        Assert.Equal((ModelKind.BlockDiffusion, 4, 151669), (back.Kind, back.BlockSize, back.MaskTokenId));
        Assert.False(back.ShiftLogits);
    }

    [Fact]
    public void Family_traits_a_dialect_cannot_express_are_refused()
    {
        ModelConfig qwen2 = ModelConfig.Load(TestPaths.Golden("configs", "qwen2.5-0.5b-instruct-config.json"));
        Assert.Contains("Qwen2 has q/k/v biases and no o_proj bias", Assert.Throws<InvalidDataException>(() => (qwen2 with { IncludeOutBias = true }).Validate()).Message);
        ModelConfig qwen3 = ModelConfig.Load(TestPaths.Golden("configs", "qwen3-0.6b-config.json"));
        Assert.Contains("attention_bias puts a bias on q, k, v and o alike", Assert.Throws<InvalidDataException>(() => (qwen3 with { IncludeQkvBias = true }).Validate()).Message);
        ModelConfig dream = ModelConfig.Load(TestPaths.Golden("configs", "dream-v0-instruct-7b-config.json"));
        Assert.Contains("Dream has no head_dim of its own", Assert.Throws<InvalidDataException>(() => (dream with { ExplicitHeadDim = 64 }).Validate()).Message);
        Assert.Contains("model_kind \"autoregressive\" is unsupported", Assert.Throws<InvalidDataException>(() => dream.As(ModelKind.Autoregressive).Validate()).Message);
        ModelConfig llada = ModelConfig.Load(TestPaths.Golden("configs", "llada-8b-config.json"));
        Assert.Contains("LLaDA has no head_dim of its own", Assert.Throws<InvalidDataException>(() => (llada with { ExplicitHeadDim = 64 }).Validate()).Message);
    }
}
