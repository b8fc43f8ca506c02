using System.Runtime.InteropServices;
using System.Text.Json;
using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Tests.Model;

/// <summary>
/// The LLaDA2.x router (<see cref="RouterScoring.Llada2Sigmoid"/>: sigmoid scores, expert bias for the choice
/// only, group-limited top-k, renormalised unbiased weights × routed_scaling_factor) against the committed
/// PyTorch reference (tests/golden/llada2-moe/golden.json from scripts/make_llada2_moe_golden.py with
/// scripts/llada2_moe_reference.py, written from inclusionAI's modeling_llada2_moe.py): a tiny layer of 8
/// experts in 4 groups, topk_group 2, top-2, expert bias, scaling 2.5, one shared expert.
/// </summary>
public class Llada2MoeRouterTests
{
    private static readonly JsonElement Golden = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("llada2-moe", "golden.json"))).RootElement;

    private static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => v.GetSingle()).ToArray();

    private static MatrixView Pinned(float[] values, int rows, int cols)
    {
        float[] p = GC.AllocateArray<float>(values.Length, pinned: true);
        values.CopyTo(p, 0);
        Keep.Add(p);
        return MatrixView.RowMajor(Marshal.UnsafeAddrOfPinnedArrayElement(p, 0), DType.F32, rows, cols);
    }

    private static readonly List<float[]> Keep = [];

    private static (MoeConfig M, MoeWeights W, int D) Layer()
    {
        JsonElement c = Golden.GetProperty("config"), w = Golden.GetProperty("weights");
        int d = c.GetProperty("hidden_size").GetInt32(), e = c.GetProperty("num_experts").GetInt32();
        int f = c.GetProperty("moe_intermediate_size").GetInt32(), fs = f * c.GetProperty("num_shared_experts").GetInt32();
        var m = new MoeConfig
        {
            Experts = e, TopK = c.GetProperty("num_experts_per_tok").GetInt32(), ExpertHidden = f, SharedExpertHidden = fs,
            LayerFreq = [1], ExpertBias = true, Router = RouterScoring.Llada2Sigmoid,
            Groups = c.GetProperty("n_group").GetInt32(), TopKGroups = c.GetProperty("topk_group").GetInt32(),
            RoutedScalingFactor = c.GetProperty("routed_scaling_factor").GetDouble(),
        };
        m.Validate(1, "the golden");
        ExpertWeights Ffn(JsonElement x, int hidden) => new()
        {
            Gate = Pinned(Floats(x.GetProperty("gate")), hidden, d),
            Up = Pinned(Floats(x.GetProperty("up")), hidden, d),
            Down = Pinned(Floats(x.GetProperty("down")), d, hidden),
        };
        var weights = new MoeWeights
        {
            Router = Pinned(Floats(w.GetProperty("router")), e, d),
            ExpertBias = Floats(w.GetProperty("expert_bias")),
            Experts = w.GetProperty("experts").EnumerateArray().Select(x => Ffn(x, f)).ToArray(),
            Shared = Ffn(w.GetProperty("shared"), fs),
        };
        return (m, weights, d);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Routing_and_output_match_the_reference(bool save)
    {
        var (m, w, d) = Layer();
        int n = Golden.GetProperty("tokens").GetInt32(), k = m.TopK;
        float[] h = Floats(Golden.GetProperty("input")), expected = Floats(Golden.GetProperty("output"));
        var x = new float[n * d];
        var a = new MoeActivations();
        MixtureOfExperts.Forward(w, m, h, n, d, x, a, save);

        int[] selected = Golden.GetProperty("selected").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        Assert.Equal(selected, a.Selected.Take(n * k).ToArray());
        float[] weights = Floats(Golden.GetProperty("routing_weights"));
        double worstW = 0;
        for (int i = 0; i < weights.Length; i++) worstW = Math.Max(worstW, Math.Abs(weights[i] - a.Weights[i]) / Math.Abs(weights[i]));
        double maxAbs = expected.Max(Math.Abs), worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - x[i]));
        TestContext.Current.TestOutputHelper!.WriteLine(
            $"max rel |Δweight| {worstW:E2}; max |Δy| {worst:E2} = {worst / maxAbs:E2} of max |y| {maxAbs:F3}");
        Assert.True(worstW <= 1e-5, $"routing weights off by {worstW:E3} relative");
        Assert.True(worst <= 1e-5 * maxAbs, $"output off by {worst:E3} (max |y| {maxAbs:F3})");
    }

    [Fact]
    public void The_bias_steers_the_choice_but_not_the_weights()
    {
        var (m, w, d) = Layer();
        var rng = new Random(7);
        int n = 16;
        float[] h = Enumerable.Range(0, n * d).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        // A huge bias on expert 5 puts it (and its group) first for every token; its weight stays the sigmoid score.
        float[] bias = new float[m.Experts];
        bias[5] = 100f;
        var biased = new MoeWeights { Router = w.Router, ExpertBias = bias, Experts = w.Experts, Shared = w.Shared };
        var a = new MoeActivations();
        MixtureOfExperts.Forward(biased, m, h, n, d, new float[n * d], a, save: false);
        var logits = new float[n * m.Experts];
        Gemm.LinearForward(h, n, w.Router, logits);
        for (int t = 0; t < n; t++)
        {
            Assert.Equal(5, a.Selected[t * m.TopK]);
            float s5 = 1f / (1f + MathF.Exp(-logits[t * m.Experts + 5])), other = 1f / (1f + MathF.Exp(-logits[t * m.Experts + a.Selected[t * m.TopK + 1]]));
            Assert.Equal(s5 / (s5 + other) * (float)m.RoutedScalingFactor, a.Weights[t * m.TopK], 1e-5f);
            Assert.InRange(a.Weights[t * m.TopK] + a.Weights[t * m.TopK + 1], 2.5f - 1e-5f, 2.5f + 1e-5f);
            int g1 = a.Selected[t * m.TopK + 1] / (m.Experts / m.Groups);
            Assert.InRange(g1, 0, m.Groups - 1);
        }
    }

    [Fact]
    public void Validate_rejects_groups_that_do_not_fit()
    {
        MoeConfig ok = new()
        {
            Experts = 8, TopK = 2, ExpertHidden = 4, LayerFreq = [1], Router = RouterScoring.Llada2Sigmoid, Groups = 4, TopKGroups = 2,
            RoutedScalingFactor = 2.5,
        };
        ok.Validate(1, "t");
        Assert.Throws<InvalidDataException>(() => (ok with { Groups = 3 }).Validate(1, "t"));       // 8 % 3
        Assert.Throws<InvalidDataException>(() => (ok with { Groups = 8, TopKGroups = 1 }).Validate(1, "t")); // 1 expert per group
        Assert.Throws<InvalidDataException>(() => (ok with { TopKGroups = 5 }).Validate(1, "t"));   // > n_group
        Assert.Throws<InvalidDataException>(() => (ok with { TopK = 5 }).Validate(1, "t"));         // > 2 groups × 2 experts
        Assert.Throws<InvalidDataException>(() => (ok with { RoutedScalingFactor = 0 }).Validate(1, "t"));
        // The softmax router ignores the group fields.
        (ok with { Router = RouterScoring.LladaMoeSoftmax, Groups = 3, TopKGroups = 7 }).Validate(1, "t");
    }
}
