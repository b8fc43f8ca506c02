using System.Text.Json;
using Dllm.IO;
using Dllm.Model;
using Dllm.Training;

namespace Dllm.Tests.Model;

/// <summary>
/// The engine against the committed PyTorch reference of LLaDA-MoE (scripts/make_moe_golden.py with
/// scripts/lladamoe_reference.py, written from the published modeling_lladamoe.py): tiny checkpoints in
/// the published layout give the reference's logits to ≤ 1e-4 relative, route every token of every MoE
/// layer to exactly the reference's experts (in the same order, with the same weights to 1e-4), and the
/// trainer's load-balancing loss equals the reference's load_balancing_loss_func times router_aux_loss_coef.
/// </summary>
public class LladaMoeGoldenTests
{
    private static readonly JsonElement Golden = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("lladamoe", "golden.json"))).RootElement;

    public static TheoryData<string> Models => new() { "tiny", "tiny-shared", "tiny-qknorm" };

    private static IEnumerable<JsonElement> Cases(string model)
        => Golden.GetProperty("models").GetProperty(model).GetProperty("cases").EnumerateArray();

    private static int[] Flat(JsonElement e) => e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().SelectMany(Flat).ToArray() : [e.GetInt32()];

    private static double[] FlatDoubles(JsonElement e) => e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().SelectMany(FlatDoubles).ToArray() : [e.GetDouble()];

    private static (int[] Ids, int Batch, int Length, byte[] Mask) Inputs(JsonElement c)
    {
        JsonElement ids = c.GetProperty("input_ids");
        int batch = ids.GetArrayLength(), length = ids[0].GetArrayLength();
        byte[] mask = c.GetProperty("attention_mask").ValueKind == JsonValueKind.Null ? [] : Flat(c.GetProperty("attention_mask")).Select(x => (byte)x).ToArray();
        return (Flat(ids), batch, length, mask);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Logits_match_the_reference(string model)
    {
        using Transformer lm = Transformer.Load(TestPaths.Golden("lladamoe", model));
        Assert.Equal(ModelFamily.LladaMoe, lm.Config.Family);
        foreach (JsonElement c in Cases(model))
        {
            var (ids, batch, length, mask) = Inputs(c);
            var logits = new float[batch * length * lm.VocabSize];
            lm.Logits(ids, batch, length, Enumerable.Range(0, length).ToArray(), logits, mask);
            using var file = SafeTensorsFile.Open(TestPaths.Golden(c.GetProperty("file").GetString()!));
            float[] expected = file.ReadSingle("logits");
            Assert.Equal(expected.Length, logits.Length);
            double maxAbs = expected.Max(Math.Abs), worst = 0;
            for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - logits[i]));
            TestContext.Current.TestOutputHelper!.WriteLine($"{model}/{c.GetProperty("name")}: max |Δlogit| {worst:E2} (max |logit| {maxAbs:F2})");
            Assert.True(worst <= 1e-4 * maxAbs, $"{model}/{c.GetProperty("name")}: max |Δlogit| {worst:E3} exceeds 1e-4 × {maxAbs:F2}");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Every_routing_decision_matches_the_reference(string model)
    {
        using Transformer lm = Transformer.Load(TestPaths.Golden("lladamoe", model));
        MoeConfig moe = lm.Config.Moe!;
        foreach (JsonElement c in Cases(model))
        {
            var (ids, batch, length, mask) = Inputs(c);
            var tape = new ActivationTape();
            lm.ForwardSaving(ids, batch, length, [0], tape, mask);
            int n = batch * length;
            foreach (JsonElement r in c.GetProperty("routing").EnumerateArray())
            {
                MoeActivations a = tape.Layers[r.GetProperty("layer").GetInt32()].Moe!;
                Assert.Equal(Flat(r.GetProperty("selected")), a.Selected.Take(n * moe.TopK).ToArray());
                double[] weights = FlatDoubles(r.GetProperty("weights"));
                for (int i = 0; i < weights.Length; i++) Assert.Equal(weights[i], a.Weights[i], 1e-4);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Load_balancing_loss_matches_the_reference(string model)
    {
        string dir = TestPaths.Golden("lladamoe", model);
        var trainable = new TrainableModel(ModelConfig.Load(Path.Combine(dir, "config.json")));
        TrainingCheckpoint.LoadWeights(dir, trainable);
        foreach (JsonElement c in Cases(model).Where(c => c.TryGetProperty("weighted_aux_loss", out _)))
        {
            var (ids, batch, length, _) = Inputs(c);
            trainable.Forward(new TrainingBatch(ids, batch, length, [0], [0], [1f], trainable.Config.Pattern));
            double expected = c.GetProperty("weighted_aux_loss").GetDouble();
            Assert.Equal(expected, trainable.AuxiliaryLoss, 1e-6 * expected);
        }
    }
}
