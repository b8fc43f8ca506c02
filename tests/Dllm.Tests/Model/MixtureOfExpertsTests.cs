using Dllm.Model;
using Dllm.Tensors;
using Dllm.Tests.Training;
using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Model;

/// <summary>
/// The mixture-of-experts FFN in the one transformer: the router's choice and grouping, sparsity (an
/// expert no token chose is never read), the MoE output equal to a naive per-token loop, the inference,
/// windowed and training forwards agreeing, and the load-balancing loss's value and gradient.
/// </summary>
public class MixtureOfExpertsTests
{
    [Fact]
    public void Top_k_orders_by_score_and_breaks_ties_towards_the_lower_expert()
    {
        int[] sel = new int[3];
        float[] val = new float[3];
        TopKRouter.TopK([0.1f, 0.3f, 0.2f, 0.3f, 0.05f], default, sel, val);
        Assert.Equal([1, 3, 2], sel);
        Assert.Equal([0.3f, 0.3f, 0.2f], val);
        TopKRouter.TopK([0.1f, 0.3f, 0.2f, 0.3f, 0.05f], [0.5f, 0, 0, 0, 0], sel, val); // the bias shifts choice and value
        Assert.Equal([0, 1, 3], sel);
        Assert.Equal(0.6f, val[0]);
    }

    [Fact]
    public void Router_softmaxes_in_place_and_groups_assignments_by_expert()
    {
        float[] logits = [0f, 2f, 1f, /* token 1 */ 3f, 0f, 1f];
        int[] sel = new int[4];
        float[] w = new float[4];
        TopKRouter.Forward(logits, 2, 3, default, 2, sel, w);
        Assert.Equal([1, 2, 0, 2], sel);
        Assert.Equal(1f, logits[0] + logits[1] + logits[2], 1e-6f);
        Assert.Equal(logits[1], w[0]);
        int[] offsets = new int[4], tokens = new int[4], slots = new int[4];
        TopKRouter.Group(sel, 2, 2, 3, offsets, tokens, slots);
        Assert.Equal([0, 1, 2, 4], offsets);          // expert 0: token 1; expert 1: token 0; expert 2: tokens 0, 1
        Assert.Equal([1, 0, 0, 1], tokens);
        Assert.Equal([0, 0, 1, 1], slots);
    }

    private static Transformer Model(string variant, int seed) => ModelGradientTests.RandomModel(MoeGradientTests.TinyMoe(variant), seed).Model;

    [Theory]
    [InlineData("moe")]
    [InlineData("shared")]
    [InlineData("top1")]
    public void An_expert_no_token_chose_is_never_read_and_a_chosen_one_is(string variant)
    {
        TrainableModel m = ModelGradientTests.RandomModel(MoeGradientTests.TinyMoe(variant), 31);
        int[] tokens = [1, 2, 3, 4];
        m.Forward(new TrainingBatch(tokens, 1, 4, [0], [0], [1f], m.Config.Pattern));
        int layer = m.Config.NLayers - 1;
        MoeActivations a = m.Tape.Layers[layer].Moe!;
        int unused = Enumerable.Range(0, 4).FirstOrDefault(e => a.Offsets[e + 1] == a.Offsets[e], -1);
        int used = a.Selected[0];
        Assert.True(unused >= 0, "every expert was chosen; pick another seed");
        var before = Logits(m.Model, tokens);
        Scale(m, $"model.layers.{layer}.mlp.experts.{unused}.down_proj.weight", 3f);
        Assert.Equal(before, Logits(m.Model, tokens));
        Scale(m, $"model.layers.{layer}.mlp.experts.{used}.down_proj.weight", 3f);
        Assert.NotEqual(before, Logits(m.Model, tokens));
    }

    private static void Scale(TrainableModel m, string name, float by)
    {
        Span<float> v = m.Parameters.Value(m.Parameters[name]);
        for (int i = 0; i < v.Length; i++) v[i] *= by;
    }

    private static float[] Logits(Transformer model, int[] tokens)
    {
        var logits = new float[tokens.Length * model.VocabSize];
        model.Logits(tokens, 1, tokens.Length, Enumerable.Range(0, tokens.Length).ToArray(), logits);
        return logits;
    }

    /// <summary>The MoE FFN (grouped GEMMs, inference buffers) against a per-token loop over the published formula.</summary>
    [Theory]
    [InlineData("moe")]
    [InlineData("shared")]
    public void Moe_output_equals_a_per_token_loop(string variant)
    {
        Transformer model = Model(variant, 32);
        MoeConfig m = model.Config.Moe!;
        MoeWeights w = model.Weights.Blocks[1].Moe!;
        int n = 7, d = model.Config.DModel;
        float[] h = GradCheck.Randn(new Random(33), n * d);
        float[] x = GradCheck.Randn(new Random(34), n * d), expected = (float[])x.Clone();
        MixtureOfExperts.Forward(w, m, h, n, d, x, new MoeActivations(), save: false);
        for (int t = 0; t < n; t++)
        {
            float[] ht = h.AsSpan(t * d, d).ToArray();
            float[] p = Linear(ht, w.Router);
            Softmax.InPlace(p);
            float[] s = w.ExpertBias.IsEmpty ? p : p.Select((v, e) => v + w.ExpertBias.Span[e]).ToArray();
            foreach (int e in Enumerable.Range(0, m.Experts).OrderByDescending(e => s[e]).ThenBy(e => e).Take(m.TopK))
                Add(expected.AsSpan(t * d, d), Ffn(ht, w.Experts[e]), s[e]);
            if (w.Shared is ExpertWeights sh) Add(expected.AsSpan(t * d, d), Ffn(ht, sh), 1f);
        }
        for (int i = 0; i < x.Length; i++) Assert.Equal(expected[i], x[i], 1e-5f);
    }

    private static float[] Linear(float[] v, MatrixView w)
    {
        var y = new float[w.Rows];
        Gemm.LinearForward(v, 1, w, y);
        return y;
    }

    private static float[] Ffn(float[] h, ExpertWeights e)
    {
        float[] g = Linear(h, e.Gate), u = Linear(h, e.Up);
        for (int i = 0; i < g.Length; i++) g[i] = g[i] / (1 + MathF.Exp(-g[i])) * u[i];
        return Linear(g, e.Down);
    }

    private static void Add(Span<float> y, float[] v, float weight)
    {
        for (int i = 0; i < v.Length; i++) y[i] += weight * v[i];
    }

    [Fact]
    public void Training_loss_is_the_cross_entropy_of_the_sampling_logits_plus_the_auxiliary_loss()
    {
        TrainableModel m = ModelGradientTests.RandomModel(MoeGradientTests.TinyMoe("shared"), 35);
        TrainingBatch batch = ModelGradientTests.RandomBatch(11, m.Config.Pattern, 36);
        double loss = m.Forward(batch);
        var logits = new float[batch.Batch * batch.Length * 11];
        m.Model.Logits(batch.Tokens, batch.Batch, batch.Length, Enumerable.Range(0, batch.Length).ToArray(), logits);
        double ce = 0;
        for (int r = 0; r < batch.Rows.Length; r++)
        {
            ReadOnlySpan<float> z = logits.AsSpan(batch.Rows[r] * 11, 11);
            ce += batch.Weights[r] * (Softmax.LogSumExp(z) - z[batch.Targets[r]]);
        }
        Assert.True(m.AuxiliaryLoss > 0);
        Assert.Equal(ce + m.AuxiliaryLoss, loss, 1e-5 * Math.Abs(loss));
    }

    [Fact]
    public void Window_logits_over_the_kv_cache_equal_the_full_forward()
    {
        Transformer model = Model("shared", 37);
        int[] tokens = [1, 5, 2, 10, 10, 10, 3, 10];
        float[] full = Logits(model, tokens);
        int v = model.VocabSize;
        model.Refresh(tokens, 1, tokens.Length, [0], new float[v]);
        var w = new float[2 * v];
        model.LogitsInWindow(tokens, 1, tokens.Length, 3, 6, [3, 5], w);
        for (int i = 0; i < v; i++)
        {
            Assert.Equal(full[3 * v + i], w[i], 1e-5f);
            Assert.Equal(full[5 * v + i], w[v + i], 1e-5f);
        }
    }

    [Fact]
    public void Load_balancing_loss_is_coef_times_k_when_balanced_and_its_gradient_matches_finite_differences()
    {
        var dp = new float[4];
        float[] uniform = Enumerable.Repeat(0.25f, 3 * 4).ToArray();
        Assert.Equal(0.01 * 2, LoadBalancingLoss.Forward([uniform], 3, 4, 2, 0.01, dp), 1e-9);

        var rng = new Random(38);
        float[][] layers = [Probs(rng, 5, 4), Probs(rng, 5, 4)];
        double loss = LoadBalancingLoss.Forward(layers, 5, 4, 2, 0.3, dp);
        Assert.True(loss > 0);
        foreach (float[] layer in layers)
            for (int i = 0; i < layer.Length; i++)
            {
                float orig = layer[i];
                layer[i] = orig + 1e-3f; double up = LoadBalancingLoss.Forward(layers, 5, 4, 2, 0.3, new float[4]);
                layer[i] = orig - 1e-3f; double down = LoadBalancingLoss.Forward(layers, 5, 4, 2, 0.3, new float[4]);
                layer[i] = orig;
                Assert.Equal((up - down) / 2e-3, dp[i % 4], 1e-4); // the counts do not move at this step
            }
        Assert.Equal(0, LoadBalancingLoss.Forward(layers, 5, 4, 2, 0, dp));
        Assert.All(dp, g => Assert.Equal(0f, g));
    }

    /// <summary>Softmax rows with well-separated entries (no top-k tie within 1e-3).</summary>
    private static float[] Probs(Random rng, int n, int experts)
    {
        var p = new float[n * experts];
        for (int t = 0; t < n; t++)
        {
            int[] order = Enumerable.Range(0, experts).OrderBy(_ => rng.Next()).ToArray();
            for (int e = 0; e < experts; e++) p[t * experts + e] = order[e] + 0.1f;
            Softmax.InPlace(p.AsSpan(t * experts, experts));
        }
        return p;
    }
}
