using Dllm.IO;
using Dllm.Model;
using Xunit;

namespace Dllm.Tests.Model;

public sealed class ModelConfigTests
{
    private readonly string _dir = TestPaths.TempDir();

    private static ModelConfig Tiny() => new()
    {
        DModel = 64, NHeads = 4, NKvHeads = 2, NLayers = 2, MlpHiddenSize = 128,
        VocabSize = 126464, MaxSequenceLength = 256,
    };

    private string WriteJson(string json)
    {
        string p = Path.Combine(_dir, "config.json");
        File.WriteAllText(p, json);
        return p;
    }

    /// <summary>The golden config with one field's JSON replaced (by simple text substitution).</summary>
    private string GoldenWith(string from, string to)
    {
        string json = File.ReadAllText(TestPaths.Golden("configs", "llada-8b-config.json"));
        Assert.Contains(from, json);
        return WriteJson(json.Replace(from, to));
    }

    [Fact]
    public void LoadsLlada8bConfig()
    {
        ModelConfig c = ModelConfig.Load(TestPaths.Golden("configs", "llada-8b-config.json"));
        Assert.Equal(["LLaDAModelLM"], c.Architectures!);
        Assert.Equal("llada", c.ModelType);
        Assert.Equal("llama", c.BlockType);
        Assert.Equal(4096, c.DModel);
        Assert.Equal(32, c.NHeads);
        Assert.Equal(32, c.KvHeads);
        Assert.Equal(32, c.NLayers);
        Assert.Equal(12288, c.MlpHiddenSize);
        Assert.Equal(126464, c.VocabSize);
        Assert.Equal(126464, c.EmbeddingRows);
        Assert.True(c.Rope);
        Assert.Equal(500000.0, c.RopeTheta);
        Assert.Equal(4096, c.MaxSequenceLength);
        Assert.Equal("silu", c.ActivationType);
        Assert.Equal("rms", c.LayerNormType);
        Assert.Equal(1e-5, c.RmsNormEps);
        Assert.False(c.IncludeBias);
        Assert.False(c.IncludeQkvBias);
        Assert.False(c.WeightTying);
        Assert.False(c.ScaleLogits);
        Assert.False(c.InputEmbNorm);
        Assert.Equal(126081, c.EosTokenId);
        Assert.Equal(126081, c.PadTokenId);
        Assert.Equal(126336, c.MaskTokenId);
        Assert.Equal(128, c.HeadDim);
        Assert.NotNull(c.Extra);
        Assert.True(c.Extra!.ContainsKey("auto_map"));
    }

    [Fact]
    public void DefaultsForAbsentOptionalFields()
    {
        string p = WriteJson("""
            {"architectures": ["LLaDAModelLM"], "model_type": "llada",
             "d_model": 64, "n_heads": 4, "n_layers": 2, "vocab_size": 126464}
            """);
        ModelConfig c = ModelConfig.Load(p);
        Assert.Null(c.NKvHeads);
        Assert.Equal(4, c.KvHeads);
        Assert.Null(c.EmbeddingSize);
        Assert.Equal(126464, c.EmbeddingRows);
        Assert.Equal(256, c.MlpHiddenSize); // mlp_ratio 4 · d_model, as Python does
        Assert.Equal(1e-5, c.RmsNormEps);
        Assert.Equal(126336, c.MaskTokenId);
    }

    [Fact]
    public void MissingRequiredField()
    {
        string p = WriteJson("""{"architectures": ["LLaDAModelLM"], "model_type": "llada", "n_heads": 4, "n_layers": 2, "vocab_size": 100}""");
        var ex = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(p));
        Assert.Contains(p, ex.Message);
        Assert.Contains("d_model", ex.Message);
    }

    [Fact]
    public void UnknownArchitecture()
    {
        string p = GoldenWith("\"LLaDAModelLM\"", "\"MistralForCausalLM\"");
        var ex = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(p));
        Assert.Equal($"unsupported architecture 'MistralForCausalLM' in {p}: Dllm supports LLaDAModelLM, DreamModel, Qwen2ForCausalLM, Qwen3ForCausalLM, LLaDAMoEModelLM, SDARForCausalLM, Fast_dLLM_QwenForCausalLM and LLaDA2MoeModelLM", ex.Message);
    }

    [Fact]
    public void UnknownModelType()
    {
        string p = GoldenWith("\"model_type\": \"llada\"", "\"model_type\": \"mistral\"");
        var ex = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(p));
        Assert.Equal($"unsupported model_type 'mistral' in {p}: Dllm supports llada", ex.Message);
    }

    [Fact]
    public void BadJsonNamesFileAndProblem()
    {
        string p = WriteJson("{\"d_model\": 4096,, }");
        var ex = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(p));
        Assert.Contains(p, ex.Message);
        Assert.Contains("invalid config JSON", ex.Message);
        Assert.Contains("LineNumber: 0", ex.Message); // System.Text.Json's position info survives
    }

    [Fact]
    public void WrongFieldType()
    {
        string p = GoldenWith("\"d_model\": 4096", "\"d_model\": \"big\"");
        var ex = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(p));
        Assert.Contains("$.d_model", ex.Message);
    }

    [Theory]
    [InlineData("\"n_heads\": 32", "\"n_heads\": 31", "d_model 4096 is not divisible by n_heads 31")]
    [InlineData("\"n_kv_heads\": 32", "\"n_kv_heads\": 5", "n_heads 32 is not divisible by n_kv_heads 5")]
    [InlineData("\"n_layers\": 32", "\"n_layers\": 0", "n_layers must be positive, found 0")]
    [InlineData("\"d_model\": 4096", "\"d_model\": -4096", "d_model must be positive, found -4096")]
    [InlineData("\"vocab_size\": 126464", "\"vocab_size\": 0", "vocab_size must be positive, found 0")]
    [InlineData("\"mlp_hidden_size\": 12288", "\"mlp_hidden_size\": -1", "mlp_hidden_size must be positive, found -1")]
    [InlineData("\"activation_type\": \"silu\"", "\"activation_type\": \"gelu\"", "unsupported activation_type 'gelu' (Dllm supports silu, swiglu)")]
    [InlineData("\"layer_norm_type\": \"rms\"", "\"layer_norm_type\": \"default\"", "unsupported layer_norm_type 'default' (Dllm supports rms)")]
    [InlineData("\"include_bias\": false", "\"include_bias\": true", "include_bias true is unsupported")]
    [InlineData("\"rope\": true", "\"rope\": false", "rope false is unsupported")]
    [InlineData("\"block_type\": \"llama\"", "\"block_type\": \"sequential\"", "unsupported block_type 'sequential'")]
    [InlineData("\"embedding_size\": 126464", "\"embedding_size\": 1000", "embedding_size 1000 is smaller than vocab_size 126464")]
    [InlineData("\"mask_token_id\": 126336", "\"mask_token_id\": 200000", "mask_token_id 200000 is outside the embedding table")]
    [InlineData("\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": 0", "rms_norm_eps must be positive")]
    public void ValidationErrors(string from, string to, string expected)
    {
        string p = GoldenWith(from, to);
        var ex = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(p));
        Assert.Contains(expected, ex.Message);
        Assert.Contains(p, ex.Message);
        // Without validation the same file still loads, for tools that only want to inspect it.
        Assert.NotNull(ModelConfig.Load(p, validate: false));
    }

    [Fact]
    public void ValidateWithoutSourcePathSaysConfigJson()
    {
        var ex = Assert.Throws<InvalidDataException>(() => (Tiny() with { NHeads = 3 }).Validate());
        Assert.Equal("d_model 64 is not divisible by n_heads 3 in config.json", ex.Message);
        Tiny().Validate();
    }

    [Fact]
    public void SaveLoadRoundTrip()
    {
        string p = Path.Combine(_dir, "config.json");
        ModelConfig c = Tiny() with { WeightTying = true, RopeTheta = 10000, RmsNormEps = 1e-6 };
        c.Save(p);
        Assert.False(File.Exists(p + ".tmp"));
        ModelConfig back = ModelConfig.Load(p);
        Assert.Equal(c with { SourcePath = p, Architectures = back.Architectures, EmbeddingSize = 126464, Extra = back.Extra }, back);
        Assert.Equal(["LLaDAModelLM"], back.Architectures!);
        string json = File.ReadAllText(p);
        Assert.Contains("\"model_type\": \"llada\"", json);
        Assert.Contains("\"n_kv_heads\": 2", json);
        Assert.Contains("\"embedding_size\": 126464", json); // written explicitly: Python's default differs
        Assert.Contains("\"rms_norm_eps\": 1E-06", json.Replace("1e-06", "1E-06"));
        Assert.DoesNotContain("SourcePath", json);
        Assert.DoesNotContain("head_dim", json, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void GoldenRoundTripKeepsUnmodelledFields()
    {
        ModelConfig c = ModelConfig.Load(TestPaths.Golden("configs", "llada-8b-config.json"));
        string p = Path.Combine(_dir, "config.json");
        c.Save(p);
        string json = File.ReadAllText(p);
        Assert.Contains("\"auto_map\"", json);
        Assert.Contains("\"init_std\": 0.02", json);
        ModelConfig back = ModelConfig.Load(p);
        Assert.Equal(c.ToJson(), back.ToJson());
    }
}
