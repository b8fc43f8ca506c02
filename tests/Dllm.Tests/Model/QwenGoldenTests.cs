using System.Text.Json;
using Dllm.IO;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tensors;

namespace Dllm.Tests.Model;

/// <summary>
/// The Qwen2 lineage against the committed PyTorch reference (scripts/make_qwen_golden.py with
/// scripts/qwen_reference.py, written from transformers' modeling_qwen2.py / modeling_qwen3.py and
/// Dream's modeling code): tiny checkpoints in the published layouts — Qwen2.5 (BF16, sharded, tied,
/// GQA), Qwen3 (q/k norm, head_dim 12 where hidden / heads is 8), Qwen3 with attention_bias (q/k/v/o
/// biases, rope_parameters, default head_dim 128, F16) and Dream (masked diffusion, shifted logits) —
/// loaded with <see cref="Transformer.Load"/>: logits within 1e-4 of the largest, the configs read as
/// the Python config classes resolve them, and Dream's greedy generation token for token.
/// </summary>
public class QwenGoldenTests
{
    private static readonly JsonElement Golden = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("qwen", "golden.json"))).RootElement;
    private readonly ITestOutputHelper _out = TestContext.Current.TestOutputHelper!;

    public static TheoryData<string> Models => ["qwen2.5-bf16-sharded", "qwen3-f32", "qwen3-attn-bias-f16", "dream-f32"];

    private static JsonElement Model(string name) => Golden.GetProperty("models").GetProperty(name);
    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    [Theory]
    [MemberData(nameof(Models))]
    public void Config_reads_as_the_Python_config_class_resolves_it(string name)
    {
        JsonElement rc = Model(name).GetProperty("resolved_config");
        using Transformer lm = Transformer.Load(TestPaths.Golden("qwen", name));
        ModelConfig c = lm.Config;
        Assert.Equal(rc.GetProperty("architecture").GetString(), c.Spec.Architecture);
        Assert.Equal(rc.GetProperty("hidden_size").GetInt32(), c.DModel);
        Assert.Equal(rc.GetProperty("intermediate_size").GetInt32(), c.MlpHiddenSize);
        Assert.Equal(rc.GetProperty("num_hidden_layers").GetInt32(), c.NLayers);
        Assert.Equal(rc.GetProperty("num_attention_heads").GetInt32(), c.NHeads);
        Assert.Equal(rc.GetProperty("num_key_value_heads").GetInt32(), c.KvHeads);
        Assert.Equal(rc.GetProperty("head_dim").GetInt32(), c.HeadDim);
        Assert.Equal(rc.GetProperty("vocab_size").GetInt32(), c.VocabSize);
        Assert.Equal(rc.GetProperty("max_position_embeddings").GetInt32(), c.MaxSequenceLength);
        Assert.Equal(rc.GetProperty("rope_theta").GetDouble(), c.RopeTheta);
        Assert.Equal(rc.GetProperty("rms_norm_eps").GetDouble(), c.RmsNormEps);
        Assert.Equal(rc.GetProperty("tie_word_embeddings").GetBoolean(), c.WeightTying);
        Assert.Equal(rc.GetProperty("bias_qkv").GetBoolean(), c.IncludeQkvBias);
        Assert.Equal(rc.GetProperty("bias_o").GetBoolean(), c.IncludeOutBias);
        Assert.Equal(rc.GetProperty("qk_norm").GetBoolean(), c.QkNorm);
        Assert.Equal(rc.GetProperty("shift_logits").GetBoolean(), c.ShiftLogits);
        Assert.Equal(rc.GetProperty("causal").GetBoolean() ? ModelKind.Autoregressive : ModelKind.MaskedDiffusion, c.Kind);
        Assert.Equal(rc.GetProperty("causal").GetBoolean() ? AttentionPattern.Causal : AttentionPattern.Bidirectional, c.Pattern);
        Assert.Equal(Id(rc.GetProperty("eos_token_id")), c.EosTokenId);
        Assert.Equal(Id(rc.GetProperty("pad_token_id")), c.PadTokenId);
        Assert.Equal(Id(rc.GetProperty("mask_token_id")), c.MaskTokenId);

        static int Id(JsonElement e) => e.ValueKind == JsonValueKind.Null ? ModelConfig.NoToken : e.GetInt32();
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Logits_match_the_reference(string name)
    {
        JsonElement m = Model(name);
        using Transformer lm = Transformer.Load(TestPaths.Golden("qwen", name));
        using var expectedFile = SafeTensorsFile.Open(TestPaths.Golden(m.GetProperty("logits_file").GetString()!));
        double worst = 0;
        foreach (JsonElement c in m.GetProperty("logits_cases").EnumerateArray())
        {
            int[][] ids = c.GetProperty("input_ids").EnumerateArray().Select(Ints).ToArray();
            int batch = ids.Length, len = ids[0].Length;
            byte[] keyMask = c.GetProperty("attention_mask").ValueKind == JsonValueKind.Null ? []
                : c.GetProperty("attention_mask").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(x => (byte)x.GetInt32())).ToArray();
            var logits = new float[batch * len * lm.VocabSize];
            lm.Logits(ids.SelectMany(x => x).ToArray(), batch, len, Enumerable.Range(0, len).ToArray(), logits, keyMask);

            float[] expected = expectedFile.ReadSingle(c.GetProperty("tensor").GetString()!);
            Assert.Equal(expected.Length, logits.Length);
            double maxAbs = expected.Max(Math.Abs), maxDiff = 0;
            for (int i = 0; i < expected.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - logits[i]));
            worst = Math.Max(worst, maxDiff / maxAbs);
            Assert.True(maxDiff <= 1e-4 * maxAbs, $"{name}/{c.GetProperty("name")}: max |Δ logit| {maxDiff:E2} exceeds 1e-4 × {maxAbs:F3}");
        }
        _out.WriteLine($"{name}: max |Δ logit| / max |logit| = {worst:E2}");
    }

    public static IEnumerable<TheoryDataRow<string>> DreamGenerateCases()
        => Model("dream-f32").GetProperty("generate_cases").EnumerateArray().Select(c => new TheoryDataRow<string>(c.GetProperty("name").GetString()!));

    /// <summary>Dream's _sample (generation_utils.py), greedy maskgit_plus: Dream's linear-time schedule,
    /// the most probable token first, logits read one row to the left.</summary>
    [Theory]
    [MemberData(nameof(DreamGenerateCases))]
    public void Dream_greedy_generation_matches_the_reference(string caseName)
    {
        JsonElement c = Model("dream-f32").GetProperty("generate_cases").EnumerateArray().First(x => x.GetProperty("name").GetString() == caseName);
        using Transformer lm = Transformer.Load(TestPaths.Golden("qwen", "dream-f32"));
        var options = new DecodingOptions
        {
            GenLength = c.GetProperty("gen_length").GetInt32(), Steps = c.GetProperty("steps").GetInt32(),
            Commit = CommitRule.Dream, DreamEps = c.GetProperty("eps").GetDouble(), Ordering = OrderingRule.LowConfidence,
        };
        var steps = new List<DenoisingStep>();
        GenerationResult result = new DiffusionSampler(lm, c.GetProperty("mask_id").GetInt32()).Generate(Ints(c.GetProperty("prompt_ids")), options, steps.Add, TestContext.Current.CancellationToken);

        Assert.Equal(Ints(c.GetProperty("step_counts")), steps.Select(s => s.CommittedPositions.Length).ToArray());
        JsonElement[] trace = c.GetProperty("steps_trace").EnumerateArray().ToArray();
        for (int s = 0; s < trace.Length; s++)
            Assert.Equal(Ints(trace[s].GetProperty("positions")), steps[s].CommittedPositions.Order().ToArray());
        Assert.Equal(Ints(c.GetProperty("output_ids")), result.Canvas);
    }
}
