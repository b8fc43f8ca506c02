using Dllm.Model;
using Dllm.Tensors;
using Dllm.Tests.Training;
using Dllm.Text;
using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Model;

/// <summary>
/// Training and inference run one forward: the logits of the model a trainer holds equal, bit for bit,
/// those of the <see cref="Transformer"/> that <c>generate</c> loads from the checkpoint the trainer just
/// saved, for every attention pattern and for the Dream, Qwen2, Qwen3 and LLaDA-MoE layouts; config.json
/// carries the pattern and is written in the family's dialect.
/// </summary>
public class OneTransformerTests
{
    public static TheoryData<string> Layouts => ["bidirectional", "causal", "block2", "dream", "qwen2", "qwen3", "qwen3-bias", "moe", "moe-causal"];

    private static ModelConfig Config(string layout) => layout switch
    {
        "moe" => MoeGradientTests.TinyMoe("shared"),
        "moe-causal" => MoeGradientTests.TinyMoe("causal"),
        _ => ModelGradientTests.Layout(layout, kvHeads: 1),
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Logits_of_the_trainer_equal_logits_of_the_saved_checkpoint(string layout)
    {
        TrainableModel trained = ModelGradientTests.RandomModel(Config(layout), seed: 3);
        // One optimiser step, so the saved weights are not just the initialisation.
        trained.ZeroGrad();
        trained.Forward(ModelGradientTests.RandomBatch(11, trained.Config.Pattern, seed: 4));
        trained.Backward();
        var opt = new AdamW(trained.Parameters);
        opt.Step(1e-2);
        string dir = TestPaths.TempDir();
        TrainingCheckpoint.Save(dir, trained, opt, new TrainerState(1, 1, "test", 0), new ByteTokenizer());

        using Transformer loaded = Transformer.Load(dir);
        Assert.Equal(trained.Config.Kind, loaded.Config.Kind);
        Assert.Equal(trained.Config.Pattern, loaded.Config.Pattern);
        Assert.Equal(trained.Config.Family, loaded.Config.Family);
        Assert.Equal(trained.Config with { SourcePath = null, Extra = null, Architectures = null, Moe = null },
            loaded.Config with { SourcePath = null, Extra = null, Architectures = null, Moe = null });
        if (trained.Config.Moe is MoeConfig moe)
        {
            int[] same = [];
            Assert.Equal(moe.LayerFreq, loaded.Config.Moe!.LayerFreq);
            Assert.Equal(moe with { LayerFreq = same }, loaded.Config.Moe with { LayerFreq = same });
        }
        var rng = new Random(5);
        int batch = 2, len = 6;
        int[] tokens = Enumerable.Range(0, batch * len).Select(_ => rng.Next(11)).ToArray();
        int[] positions = [5, 0, 3];
        byte[] keyMask = [1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1];
        foreach (byte[] km in new[] { Array.Empty<byte>(), keyMask })
        {
            var a = new float[batch * positions.Length * 11];
            var b = new float[a.Length];
            trained.Model.Logits(tokens, batch, len, positions, a, km);
            loaded.Logits(tokens, batch, len, positions, b, km);
            Assert.Equal(a, b);
        }
    }

    [Fact]
    public void Dream_checkpoints_are_written_in_Dreams_dialect()
    {
        TrainableModel m = ModelGradientTests.RandomModel(ModelGradientTests.TinyDream(kvHeads: 1), seed: 1);
        string dir = TestPaths.TempDir();
        TrainingCheckpoint.Save(dir, m, new AdamW(m.Parameters), new TrainerState(0, 1, "test", 0), new ByteTokenizer());
        string json = File.ReadAllText(Path.Combine(dir, "config.json"));
        Assert.Contains("\"DreamModel\"", json);
        Assert.Contains("\"hidden_size\"", json);
        Assert.Contains("model.layers.0.self_attn.q_proj.bias", m.Parameters.Tensors.Select(t => t.Name));
        Assert.True(Transformer.Load(dir).Config.ShiftLogits);
    }

    [Theory]
    [InlineData("qwen2", "Qwen2ForCausalLM", "qwen2")]
    [InlineData("qwen3", "Qwen3ForCausalLM", "qwen3")]
    [InlineData("qwen3-bias", "Qwen3ForCausalLM", "qwen3")]
    public void Qwen_checkpoints_are_written_in_their_dialect(string layout, string architecture, string modelType)
    {
        TrainableModel m = ModelGradientTests.RandomModel(Config(layout), seed: 1);
        string dir = TestPaths.TempDir();
        TrainingCheckpoint.Save(dir, m, new AdamW(m.Parameters), new TrainerState(0, 1, "test", 0), new ByteTokenizer());
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")));
        var root = doc.RootElement;
        Assert.Equal(architecture, root.GetProperty("architectures")[0].GetString());
        Assert.Equal(modelType, root.GetProperty("model_type").GetString());
        Assert.Equal(8, root.GetProperty("hidden_size").GetInt32());
        Assert.Equal(12, root.GetProperty("intermediate_size").GetInt32());
        Assert.Equal(1, root.GetProperty("num_key_value_heads").GetInt32());
        Assert.False(root.TryGetProperty("d_model", out _));
        string[] names = m.Parameters.Tensors.Select(t => t.Name).ToArray();
        Assert.Contains("model.layers.0.self_attn.q_proj.weight", names);
        if (layout == "qwen2")
        {
            Assert.False(root.TryGetProperty("head_dim", out _));      // Qwen2 derives it
            Assert.False(root.TryGetProperty("model_kind", out _));    // a plain Qwen2 is autoregressive
            Assert.Contains("model.layers.0.self_attn.q_proj.bias", names);
        }
        else
        {
            Assert.Equal(6, root.GetProperty("head_dim").GetInt32());
            Assert.Equal(layout == "qwen3-bias", root.GetProperty("attention_bias").GetBoolean());
            Assert.Contains("model.layers.0.self_attn.q_norm.weight", names);
            Assert.Equal(layout == "qwen3-bias", names.Contains("model.layers.0.self_attn.o_proj.bias"));
        }
        // Dllm's own fields appear only when the kind is not the family's: a diffusion-adapted Qwen3.
        Assert.Equal(layout == "qwen3-bias" ? "masked_diffusion" : null,
            root.TryGetProperty("model_kind", out var kind) ? kind.GetString() : null);
        ModelConfig back = ModelConfig.Load(Path.Combine(dir, "config.json"));
        Assert.Equal(m.Config.Kind, back.Kind);
        Assert.Equal(m.Config.HeadDim, back.HeadDim);
        Assert.False(back.ShiftLogits);
    }

    [Fact]
    public void Llada_moe_checkpoints_are_written_in_the_published_layout()
    {
        TrainableModel m = ModelGradientTests.RandomModel(MoeGradientTests.TinyMoe("shared"), seed: 1);
        string dir = TestPaths.TempDir();
        TrainingCheckpoint.Save(dir, m, new AdamW(m.Parameters), new TrainerState(0, 1, "test", 0), new ByteTokenizer());
        string json = File.ReadAllText(Path.Combine(dir, "config.json"));
        Assert.Contains("\"LLaDAMoEModelLM\"", json);
        Assert.Contains("\"moe_layer_freq\"", json);
        Assert.DoesNotContain("model_kind", json); // masked diffusion reads like a published config
        string[] names = m.Parameters.Tensors.Select(t => t.Name).ToArray();
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", names);          // the dense first layer
        Assert.Contains("model.layers.1.mlp.gate.weight", names);               // the router
        Assert.Contains("model.layers.1.mlp.experts.3.down_proj.weight", names);
        Assert.Contains("model.layers.1.shared_expert.up_proj.weight", names);
        Assert.Contains("model.layers.1.mlp.expert_bias", names);
        Assert.DoesNotContain("model.layers.1.mlp.gate_proj.weight", names);
        using Transformer back = Transformer.Load(dir);
        Assert.Equal(ModelFamily.LladaMoe, back.Config.Family);
        Assert.Equal([0, 1], back.Config.Moe!.LayerFreq);
        Assert.Equal(5, back.Config.Moe.SharedExpertHidden);
        Assert.True(back.Config.Moe.ExpertBias);
        Assert.False(back.Config.ShiftLogits);
        Assert.Contains("\"model_kind\": \"autoregressive\"", ((MoeGradientTests.TinyMoe("causal")).ToJson()));
    }

    [Fact]
    public void Causal_and_block_causal_models_ignore_what_they_may_not_see()
    {
        foreach (var (layout, visible) in new[] { ("causal", 2), ("block2", 2) })
        {
            Transformer model = ModelGradientTests.RandomModel(Config(layout), seed: 6).Model;
            var a = new float[2 * 11]; var c = new float[2 * 11];
            model.Logits([1, 2, 3, 4], 1, 4, [0, 1], a);
            model.Logits([1, 2, 7, 8], 1, 4, [0, 1], c); // positions 0 and 1 see keys 0..1 only
            Assert.Equal(a, c);
            Assert.Equal(visible, OpGradientTests.Pattern(layout).KeyLimit(1, 4));
        }
    }

    [Fact]
    public void Config_json_refuses_an_attention_that_does_not_fit_the_kind()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "config.json");
        (ModelGradientTests.Tiny(1) with { Kind = ModelKind.Autoregressive }).Save(path);
        Assert.Contains("model_kind \"autoregressive\" needs attention \"causal\"",
            Assert.Throws<InvalidDataException>(() => ModelConfig.Load(path)).Message);
        ModelGradientTests.Tiny(1).As(ModelKind.BlockDiffusion, 4).Save(path);
        ModelConfig back = ModelConfig.Load(path);
        Assert.Equal(AttentionPattern.BlockCausal(4), back.Pattern);
        Assert.Contains("\"block_size\": 4", File.ReadAllText(path));
    }
}
