using System.Text.Json;
using Dllm.IO;
using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Tests.Model;

/// <summary>
/// Dream checkpoints (Qwen2 names, q/k/v bias, shifted logits) through the shared backbone: the
/// LLaDA golden weights renamed to Dream's layout with zero biases must give, at position p, the
/// LLaDA logits of position p − 1.
/// </summary>
public class DreamTests
{
    private static string WriteDreamCopy(float qBias)
    {
        string dir = TestPaths.TempDir();
        using var src = SafeTensorsFile.Open(TestPaths.Golden("tiny-f32", "model.safetensors"));
        var map = new Dictionary<string, string>
        {
            ["model.transformer.wte.weight"] = "model.embed_tokens.weight",
            ["model.transformer.ln_f.weight"] = "model.norm.weight",
            ["model.transformer.ff_out.weight"] = "lm_head.weight",
        };
        string[] names = ["attn_norm", "q_proj", "k_proj", "v_proj", "attn_out", "ff_norm", "ff_proj", "up_proj", "ff_out"];
        string[] dream = ["input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
        var entries = new List<SafeTensorsWriter.Entry>();
        for (int i = 0; i < 2; i++)
        {
            for (int j = 0; j < names.Length; j++) map[$"model.transformer.blocks.{i}.{names[j]}.weight"] = $"model.layers.{i}.{dream[j]}.weight";
            entries.Add(SafeTensorsWriter.Entry.FromSingle($"model.layers.{i}.self_attn.q_proj.bias", [64], Enumerable.Repeat(qBias, 64).ToArray()));
            entries.Add(SafeTensorsWriter.Entry.FromSingle($"model.layers.{i}.self_attn.k_proj.bias", [64], new float[64]));
            entries.Add(SafeTensorsWriter.Entry.FromSingle($"model.layers.{i}.self_attn.v_proj.bias", [64], new float[64]));
        }
        foreach (var (from, to) in map)
        {
            TensorInfo t = src.Get(from);
            entries.Add(SafeTensorsWriter.Entry.FromSingle(to, t.Shape, src.ReadSingle(from)));
        }
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), entries);
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["architectures"] = new[] { "DreamModel" }, ["model_type"] = "Dream", ["hidden_size"] = 64, ["intermediate_size"] = 160,
            ["num_attention_heads"] = 4, ["num_key_value_heads"] = 4, ["num_hidden_layers"] = 2, ["vocab_size"] = 97,
            ["max_position_embeddings"] = 256, ["rope_theta"] = 10000.0, ["rms_norm_eps"] = 1e-5, ["tie_word_embeddings"] = false,
            ["mask_token_id"] = 96, ["eos_token_id"] = 95, ["pad_token_id"] = 95,
        }));
        return dir;
    }

    [Fact]
    public void DreamLayoutEqualsLladaWithLogitsShiftedByOne()
    {
        using Transformer llada = Transformer.Load(TestPaths.Golden("tiny-f32"));
        using Transformer dream = Transformer.Load(WriteDreamCopy(qBias: 0));
        Assert.True(dream.Config.ShiftLogits);
        int[] tokens = [5, 17, 42, 96, 96, 96, 3, 96];
        int v = llada.VocabSize;
        var a = new float[tokens.Length * v];
        var b = new float[tokens.Length * v];
        int[] all = Enumerable.Range(0, tokens.Length).ToArray();
        llada.Logits(tokens, 1, tokens.Length, all, a);
        dream.Logits(tokens, 1, tokens.Length, all, b);
        for (int p = 0; p < tokens.Length; p++)
            for (int t = 0; t < v; t++)
                Assert.Equal(a[Math.Max(p - 1, 0) * v + t], b[p * v + t], 1e-4f);

        // The cache window's first position reads the row before the window.
        var w = new float[2 * v];
        dream.Refresh(tokens, 1, tokens.Length, [0], new float[v]);
        dream.LogitsInWindow(tokens, 1, tokens.Length, 3, 6, [3, 5], w);
        for (int t = 0; t < v; t++)
        {
            Assert.Equal(a[2 * v + t], w[t], 1e-4f);
            Assert.Equal(a[4 * v + t], w[v + t], 1e-4f);
        }
    }

    [Fact]
    public void QueryBiasIsApplied()
    {
        using Transformer plain = Transformer.Load(WriteDreamCopy(qBias: 0));
        using Transformer biased = Transformer.Load(WriteDreamCopy(qBias: 0.5f));
        int[] tokens = [5, 17, 42, 96];
        var a = new float[plain.VocabSize];
        var b = new float[plain.VocabSize];
        plain.Logits(tokens, 1, 4, [3], a);
        biased.Logits(tokens, 1, 4, [3], b);
        Assert.Contains(Enumerable.Range(0, a.Length), i => Math.Abs(a[i] - b[i]) > 1e-3);
    }

    [Fact]
    public void MissingBiasIsAnErrorNamingTheTensor()
    {
        string dir = WriteDreamCopy(0);
        using (var f = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors")))
        {
            var keep = f.Tensors.Values.Where(t => t.Name != "model.layers.1.self_attn.v_proj.bias")
                .Select(t => SafeTensorsWriter.Entry.FromSingle(t.Name, t.Shape, f.ReadSingle(t.Name))).ToList();
            SafeTensorsWriter.Write(Path.Combine(dir, "other.safetensors"), keep);
        }
        File.Move(Path.Combine(dir, "other.safetensors"), Path.Combine(dir, "model.safetensors"), overwrite: true);
        Exception e = Assert.ThrowsAny<Exception>(() => Transformer.Load(dir));
        Assert.Contains("model.layers.1.self_attn.v_proj.bias", e.Message);
    }
}
