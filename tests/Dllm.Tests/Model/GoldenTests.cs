using System.Text.Json;
using Dllm.IO;
using Dllm.Model;
using Dllm.Sampling;

namespace Dllm.Tests.Model;

/// <summary>
/// The engine against the committed PyTorch reference (scripts/make_golden.py): logits of three
/// tiny checkpoints (F32; BF16 + grouped-query + sharded; F16 + tied head) to ≤ 1e-4 relative,
/// and reference generate() outputs token for token, step by step.
/// </summary>
public class GoldenTests
{
    private static readonly JsonElement Golden = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("golden.json"))).RootElement;

    public static TheoryData<string> Models => new() { "tiny-f32", "tiny-bf16-gqa", "tiny-tied" };

    public static IEnumerable<TheoryDataRow<string, string>> GenerateCases()
    {
        foreach (JsonProperty m in Golden.GetProperty("models").EnumerateObject())
            foreach (JsonElement c in m.Value.GetProperty("generate_cases").EnumerateArray())
                yield return new(m.Name, c.GetProperty("name").GetString()!);
    }

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    [Theory]
    [MemberData(nameof(Models))]
    public void LogitsMatchReference(string model)
    {
        using Transformer lm = Transformer.Load(TestPaths.Golden(model));
        foreach (JsonElement c in Golden.GetProperty("models").GetProperty(model).GetProperty("logits_cases").EnumerateArray())
        {
            int[][] ids = c.GetProperty("input_ids").EnumerateArray().Select(Ints).ToArray();
            int batch = ids.Length, len = ids[0].Length, vocab = lm.VocabSize;
            byte[] mask = c.GetProperty("attention_mask").ValueKind == JsonValueKind.Null ? []
                : c.GetProperty("attention_mask").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(x => (byte)x.GetInt32())).ToArray();
            int[] positions = Enumerable.Range(0, len).ToArray();
            var logits = new float[batch * len * vocab];
            lm.Logits(ids.SelectMany(x => x).ToArray(), batch, len, positions, logits, mask);

            using var expectedFile = SafeTensorsFile.Open(TestPaths.Golden(c.GetProperty("file").GetString()!));
            float[] expected = expectedFile.ReadSingle("logits");
            Assert.Equal(expected.Length, logits.Length);
            double maxAbs = expected.Max(Math.Abs);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - logits[i]) <= 1e-4 * maxAbs,
                    $"{model}/{c.GetProperty("name")}: logit {i} expected {expected[i]}, got {logits[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(GenerateCases))]
    public void GenerateMatchesReference(string model, string name)
    {
        JsonElement c = Golden.GetProperty("models").GetProperty(model).GetProperty("generate_cases").EnumerateArray()
            .First(x => x.GetProperty("name").GetString() == name);
        using Transformer lm = Transformer.Load(TestPaths.Golden(model));
        var options = new DecodingOptions
        {
            GenLength = c.GetProperty("gen_length").GetInt32(),
            Steps = c.GetProperty("steps").GetInt32(),
            BlockLength = c.GetProperty("block_length").GetInt32(),
            Temperature = c.GetProperty("temperature").GetDouble(),
            CfgScale = c.GetProperty("cfg_scale").GetDouble(),
            Ordering = c.GetProperty("remasking").GetString() == "random" ? OrderingRule.Random : OrderingRule.LowConfidence,
            Seed = 1,
        };
        int[] prompt = Ints(c.GetProperty("prompt_ids"));
        var steps = new List<DenoisingStep>();
        GenerationResult result = new DiffusionSampler(lm, c.GetProperty("mask_id").GetInt32()).Generate(prompt, options, steps.Add);

        // The schedule: how many tokens each step commits, for every case.
        Assert.Equal(Ints(c.GetProperty("step_counts")), steps.Select(s => s.CommittedPositions.Length).ToArray());
        Assert.DoesNotContain(lm.Config.MaskTokenId, result.Canvas);
        Assert.Equal(prompt, result.Canvas[..prompt.Length]);
        if (!c.GetProperty("token_exact").GetBoolean()) return;

        Assert.Equal(Ints(c.GetProperty("output_ids")), result.Canvas);
        JsonElement[] trace = c.GetProperty("steps_trace").EnumerateArray().ToArray();
        Assert.Equal(trace.Length, steps.Count);
        for (int s = 0; s < trace.Length; s++)
        {
            int[] positions = steps[s].CommittedPositions.Order().ToArray();
            Assert.Equal(Ints(trace[s].GetProperty("positions")), positions);
        }
        int forwards = options.Steps; // one forward per step (a batch of two under CFG)
        Assert.Equal(forwards, result.ForwardPasses);
    }

    [Fact]
    public void CachedWindowEqualsFullForwardWhenNothingChanged()
    {
        using Transformer lm = Transformer.Load(TestPaths.Golden("tiny-bf16-gqa"));
        int len = 20, vocab = lm.VocabSize;
        int[] tokens = Enumerable.Range(0, 2 * len).Select(i => (i * 7) % 96).ToArray();
        int[] positions = [8, 9, 12];
        var full = new float[2 * positions.Length * vocab];
        var windowed = new float[full.Length];
        lm.Logits(tokens, 2, len, positions, full);
        lm.Refresh(tokens, 2, len, [0], new float[2 * vocab]);
        lm.LogitsInWindow(tokens, 2, len, 8, 16, positions, windowed);
        for (int i = 0; i < full.Length; i++) Assert.Equal(full[i], windowed[i], 3e-4f);

        // A token changed inside the window: the cached rows outside it are stale (Fast-dLLM's
        // approximation), so the window differs from a full forward until the next refresh.
        tokens[10] = 5;
        lm.Logits(tokens, 2, len, positions, full);
        lm.LogitsInWindow(tokens, 2, len, 8, 16, positions, windowed);
        Assert.Contains(Enumerable.Range(0, full.Length), i => Math.Abs(full[i] - windowed[i]) > 1e-3);
        lm.Refresh(tokens, 2, len, [0], new float[2 * vocab]);
        lm.LogitsInWindow(tokens, 2, len, 8, 16, positions, windowed);
        for (int i = 0; i < full.Length; i++) Assert.Equal(full[i], windowed[i], 3e-4f);
        Assert.Throws<InvalidOperationException>(() => lm.LogitsInWindow(tokens[..len], 1, len, 8, 16, positions, windowed));
    }

    [Fact]
    public void BadInputsAreRejectedWithClearMessages()
    {
        using Transformer lm = Transformer.Load(TestPaths.Golden("tiny-f32"));
        var logits = new float[lm.VocabSize];
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => lm.Logits([1, 200], 1, 2, [0], logits)).Message);
        Assert.Contains("outside the computed rows", Assert.Throws<ArgumentException>(() => lm.Logits([1, 2], 1, 2, [2], logits)).Message);
        Assert.Contains("max_sequence_length", Assert.Throws<ArgumentException>(() => lm.Logits(new int[300], 1, 300, [0], logits)).Message);
        var sampler = new DiffusionSampler(lm, lm.Config.MaskTokenId);
        Assert.Contains("multiple of block_length", Assert.Throws<DecodingOptionException>(() => sampler.Generate([1], new DecodingOptions { GenLength = 10, BlockLength = 4, Steps = 10 })).Message);
        Assert.Contains("maximum sequence length", Assert.Throws<DecodingOptionException>(() => sampler.Generate(new int[200], new DecodingOptions { GenLength = 64, BlockLength = 64, Steps = 64 })).Message);
    }
}
