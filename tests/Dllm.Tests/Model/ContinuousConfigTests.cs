using Dllm.Model;
using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Model;

/// <summary>config.json of the continuous families: their fields written, read back and validated; every
/// other config reads and writes as before.</summary>
public sealed class ContinuousConfigTests
{
    private readonly string _dir = TestPaths.TempDir();

    private static ModelConfig Tiny(ModelKind kind) => Trainer.ContinuousDefaults(new ModelConfig
    {
        DModel = 32, NHeads = 2, NLayers = 1, MlpHiddenSize = 64, VocabSize = 40, MaxSequenceLength = 64,
        EosTokenId = 2, PadTokenId = 2, MaskTokenId = 3,
    }.As(kind));

    private string Saved(ModelConfig c)
    {
        string p = Path.Combine(_dir, "config.json");
        c.Save(p);
        return p;
    }

    [Fact]
    public void Old_configs_read_and_write_without_the_continuous_fields()
    {
        ModelConfig llada = ModelConfig.Load(TestPaths.Golden("configs", "llada-8b-config.json"));
        Assert.False(llada.IsContinuous);
        Assert.Equal(0, llada.DiffusionSteps);
        Assert.Null(llada.NoiseSchedule);
        string json = llada.ToJson();
        foreach (string field in new[] { "diffusion_steps", "noise_schedule", "simplex_k", "ssd_block_size" }) Assert.DoesNotContain(field, json);
    }

    [Theory]
    [InlineData(ModelKind.DiffusionLm, "diffusion_lm", 2000, "sqrt")]
    [InlineData(ModelKind.DiffuSeq, "diffuseq", 2000, "sqrt")]
    [InlineData(ModelKind.SsdLm, "ssd_lm", 5000, "cosine")]
    public void Each_family_round_trips_with_the_papers_defaults(ModelKind kind, string name, int steps, string schedule)
    {
        ModelConfig back = ModelConfig.Load(Saved(Tiny(kind)));
        Assert.Equal(kind, back.Kind);
        Assert.Equal(name, back.KindName);
        Assert.Equal(steps, back.DiffusionSteps);
        Assert.Equal(schedule, back.NoiseSchedule);
        Assert.Equal(AttentionKind.Bidirectional, back.Attention);
        Assert.Equal(kind != ModelKind.SsdLm, back.WeightTying);
        Assert.Equal(kind == ModelKind.SsdLm ? 5.0 : 0, back.SimplexK);
        Assert.Equal(kind == ModelKind.SsdLm ? 25 : 0, back.SsdBlockSize);
        Assert.Contains($"\"model_kind\": \"{name}\"", File.ReadAllText(Path.Combine(_dir, "config.json")));
    }

    [Fact]
    public void Inconsistent_fields_are_refused_with_the_field_named()
    {
        string Error(ModelConfig c) => Assert.Throws<InvalidDataException>(() => ModelConfig.Load(Saved(c))).Message;
        Assert.Contains("weight_tying", Error(Tiny(ModelKind.DiffusionLm) with { WeightTying = false }));
        Assert.Contains("noise_schedule", Error(Tiny(ModelKind.DiffuSeq) with { NoiseSchedule = "linear" }));
        Assert.Contains("diffusion_steps", Error(Tiny(ModelKind.SsdLm) with { DiffusionSteps = 0 }));
        Assert.Contains("simplex_k", Error(Tiny(ModelKind.SsdLm) with { SimplexK = -1 }));
        Assert.Contains("ssd_block_size", Error(Tiny(ModelKind.SsdLm) with { SsdBlockSize = 0 }));
        Assert.Contains("simplex_k and ssd_block_size belong to ssd_lm", Error(Tiny(ModelKind.DiffusionLm) with { SimplexK = 5 }));
        Assert.Contains("belong to the continuous families", Error(Tiny(ModelKind.MaskedDiffusion) with { DiffusionSteps = 100 }));
        Assert.Contains("needs attention", Error(Tiny(ModelKind.SsdLm) with { Attention = AttentionKind.Causal }));
        Assert.Contains("LLaDA layout", Assert.Throws<InvalidDataException>(() => Tiny(ModelKind.DiffusionLm).WithFamily(ModelFamily.Qwen2).Validate()).Message);
    }
}
