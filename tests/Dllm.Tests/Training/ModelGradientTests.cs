using Dllm.Model;
using Dllm.Tensors;
using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Training;

/// <summary>Whole-model checks: every parameter's gradient against finite differences, for each
/// attention pattern, with GQA, tied embeddings, Dream's layout (q/k/v biases, shifted logits) and the
/// Qwen layouts (Qwen2 q/k/v biases; Qwen3 q/k norms, head_dim ≠ d / heads, attention_bias on q/k/v/o);
/// and the training loss equal to the cross-entropy of the sampling logits.</summary>
public class ModelGradientTests
{
    /// <summary>
    /// Step 3e-3 balances the O(h²) truncation error (wte reaches 5e-3 at h = 1e-2) against float32
    /// rounding (small q_proj gradients reach 2e-3 at h = 1e-3). Measured at 3e-3: whole model
    /// 1e-4..4e-4, worst single tensor &lt; 2e-3 (1.7e-3: a Qwen3 q/k norm). Bounds: per tensor 3e-3, whole model 1e-3.
    /// <para>A key bias's gradient is nearly zero (softmax ignores a shift common to every key; only RoPE's
    /// rotation of the bias leaves a gradient, ~1e-2 against ~1 for the other tensors), so its relative
    /// error is float32 noise over a tiny norm: per-tensor errors are relative to at least <see cref="Floor"/>
    /// (measured: the qwen2 layer-1 k bias, norm 1.3e-2, absolute error 7e-5 like the other tensors).</para>
    /// </summary>
    private const double H = 3e-3, Bound = 3e-3, WholeBound = 1e-3, Floor = 0.1;
    private readonly ITestOutputHelper _out = TestContext.Current.TestOutputHelper!;

    internal static ModelConfig Tiny(int kvHeads, bool tied = false) => TestConfigs.Tiny(8, 2, kvHeads, 2, 12, 11, 16, tied: tied, eos: 9, mask: 10);

    /// <summary><see cref="Tiny"/> in Dream's layout (q/k/v biases, logits shifted by one).</summary>
    internal static ModelConfig TinyDream(int kvHeads, bool tied = false) => Tiny(kvHeads, tied).WithFamily(ModelFamily.Dream);

    /// <summary>
    /// The tiny config of a named layout: an attention pattern of the LLaDA layout ("bidirectional",
    /// "causal", "block2", "block3"), "dream", "qwen2" (causal, q/k/v biases), "qwen3" (causal, q/k norms,
    /// head_dim 6 where d / heads is 4) or "qwen3-bias" (q/k norms, head_dim 6, attention_bias: q/k/v/o
    /// biases; masked diffusion, as an AR-to-diffusion adaptation would train it) or "llada2" (LLaDA2's dense block: the
    /// fused query_key_value with its bias sliced into q/k/v, q/k norms, RoPE on 2 of 4 head dims, a dense bias; blocks of 2).
    /// </summary>
    internal static ModelConfig Layout(string layout, int kvHeads, bool tied = false) => layout switch
    {
        "dream" => TinyDream(kvHeads, tied),
        "qwen2" => Tiny(kvHeads, tied).WithFamily(ModelFamily.Qwen2).As(ModelKind.Autoregressive),
        "qwen3" => (Tiny(kvHeads, tied) with { ExplicitHeadDim = 6 }).WithFamily(ModelFamily.Qwen3).As(ModelKind.Autoregressive),
        "qwen3-bias" => (Tiny(kvHeads, tied) with { ExplicitHeadDim = 6 }).WithFamily(ModelFamily.Qwen3, attentionBias: true),
        "llada2" => Tiny(kvHeads, tied).WithFamily(ModelFamily.Llada2).As(ModelKind.BlockDiffusion, 2) with
        {
            IncludeQkvBias = true, IncludeOutBias = true, QkNorm = true, PartialRotaryFactor = 0.5,
        },
        _ => Tiny(kvHeads, tied).With(OpGradientTests.Pattern(layout)),
    };

    /// <summary>A model with large random weights (std 0.3, norm weights around 1, biases around 0) so every path matters.</summary>
    internal static TrainableModel RandomModel(ModelConfig config, int seed)
    {
        var m = new TrainableModel(config);
        var rng = new Random(seed);
        m.Initialize(rng, std: 0.3);
        foreach (ParameterTensor t in m.Parameters.Tensors)
            if (!t.IsMatrix)
            {
                Span<float> v = m.Parameters.Value(t);
                for (int i = 0; i < v.Length; i++) v[i] = (t.IsBias ? 0f : 1f) + 0.3f * (float)(rng.NextDouble() - 0.5);
            }
        return m;
    }

    internal static TrainingBatch RandomBatch(int vocab, AttentionPattern pattern, int seed, int batch = 2, int len = 5)
    {
        var rng = new Random(seed);
        int[] tokens = Enumerable.Range(0, batch * len).Select(_ => rng.Next(vocab)).ToArray();
        int[] rows = Enumerable.Range(0, batch * len).Where(_ => rng.NextDouble() < 0.6).ToArray();
        return new TrainingBatch(tokens, batch, len, rows,
            rows.Select(_ => rng.Next(vocab)).ToArray(),
            rows.Select(_ => (float)(0.2 + rng.NextDouble())).ToArray(), pattern);
    }

    [Theory]
    [InlineData("bidirectional", 2, false)]
    [InlineData("bidirectional", 1, false)]
    [InlineData("causal", 1, false)]
    [InlineData("causal", 2, true)]
    [InlineData("block2", 1, false)]
    [InlineData("block3", 2, true)]
    [InlineData("dream", 1, false)]
    [InlineData("dream", 2, true)]
    [InlineData("qwen2", 1, true)]
    [InlineData("qwen3", 1, false)]
    [InlineData("qwen3", 2, true)]
    [InlineData("qwen3-bias", 1, false)]
    [InlineData("llada2", 1, false)]
    [InlineData("llada2", 2, true)]
    public void Every_parameter_gradient_matches_finite_differences(string pattern, int kvHeads, bool tied)
    {
        TrainableModel m = RandomModel(Layout(pattern, kvHeads, tied), 11);
        TrainingBatch batch = RandomBatch(11, m.Config.Pattern, 12);
        m.ZeroGrad();
        m.Forward(batch);
        m.Backward();
        float[] grads = (float[])m.Parameters.Grads.Clone();
        double[] numeric = GradCheck.Numeric(() => m.Forward(batch), m.Parameters.Values, H);
        double worst = 0;
        foreach (ParameterTensor t in m.Parameters.Tensors)
        {
            double e = GradCheck.RelativeError(grads.AsSpan((int)t.Offset, t.Length), numeric.AsSpan((int)t.Offset, t.Length), Floor);
            worst = Math.Max(worst, e);
            Assert.True(e < Bound, $"{pattern} kv{kvHeads} tied={tied}: {t.Name} relative error {e:E3}");
        }
        double all = GradCheck.RelativeError(grads, numeric);
        _out.WriteLine($"{pattern} H2/{kvHeads} tied={tied}: whole-model relative error {all:E2}, worst tensor {worst:E2}");
        Assert.True(all < WholeBound, $"whole-model relative error {all:E3}");
    }

    [Fact]
    public void Gradients_accumulate_over_micro_batches()
    {
        TrainableModel m = RandomModel(Tiny(1), 13);
        TrainingBatch a = RandomBatch(11, AttentionPattern.Bidirectional, 14), b = RandomBatch(11, AttentionPattern.Bidirectional, 15);
        m.ZeroGrad();
        m.Forward(a); m.Backward();
        float[] ga = (float[])m.Parameters.Grads.Clone();
        m.ZeroGrad();
        m.Forward(b); m.Backward();
        float[] gb = (float[])m.Parameters.Grads.Clone();
        m.ZeroGrad();
        m.Forward(a); m.Backward(0.5f);
        m.Forward(b); m.Backward(0.5f);
        float[] g = m.Parameters.Grads;
        for (int i = 0; i < g.Length; i++) Assert.Equal(0.5f * (ga[i] + gb[i]), g[i], 1e-6f + 1e-4f * Math.Abs(g[i]));
    }

    [Fact]
    public void Training_loss_equals_cross_entropy_of_the_sampling_logits()
    {
        foreach (AttentionPattern p in new[] { AttentionPattern.Bidirectional, AttentionPattern.Causal, AttentionPattern.BlockCausal(2) })
        {
            TrainableModel m = RandomModel(Tiny(1).With(p), 18);
            TrainingBatch batch = RandomBatch(11, p, 19);
            double loss = m.Forward(batch);
            int[] all = Enumerable.Range(0, batch.Length).ToArray();
            var logits = new float[batch.Batch * batch.Length * 11];
            m.Model.Logits(batch.Tokens, batch.Batch, batch.Length, all, logits);
            double expect = 0;
            for (int r = 0; r < batch.Rows.Length; r++)
            {
                ReadOnlySpan<float> z = logits.AsSpan(batch.Rows[r] * 11, 11);
                expect += batch.Weights[r] * (Softmax.LogSumExp(z) - z[batch.Targets[r]]);
            }
            Assert.Equal(expect, loss, 1e-5 * Math.Abs(expect));
        }
    }

    [Fact]
    public void Backward_without_forward_throws()
        => Assert.Throws<InvalidOperationException>(() => TrainableModel.Create(Tiny(1), 1).Backward());

    [Fact]
    public void A_batch_for_another_attention_pattern_is_refused()
    {
        TrainableModel m = TrainableModel.Create(Tiny(1), 1);
        Assert.Contains("Causal", Assert.Throws<ArgumentException>(() => m.Forward(RandomBatch(11, AttentionPattern.Causal, 2))).Message);
    }

    [Fact]
    public void Parameter_names_follow_the_Hugging_Face_layout()
    {
        TrainableModel m = TrainableModel.Create(Tiny(1), 1);
        string[] names = m.Parameters.Tensors.Select(t => t.Name).ToArray();
        Assert.Equal("model.transformer.wte.weight", names[0]);
        Assert.Contains("model.transformer.blocks.1.k_proj.weight", names);
        Assert.Equal([4, 8], m.Parameters["model.transformer.blocks.1.k_proj.weight"].Shape); // (out, in), GQA
        Assert.Equal("model.transformer.ff_out.weight", names[^1]);
        Assert.Equal(2 + 2 * 9 + 1, names.Length);
        Assert.DoesNotContain("model.transformer.ff_out.weight", TrainableModel.Create(Tiny(1, tied: true), 1).Parameters.Tensors.Select(t => t.Name));
        Assert.All(m.Parameters.Value(m.Parameters["model.transformer.ln_f.weight"]).ToArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void Qwen3_parameters_have_q_k_norms_and_head_dim_shapes()
    {
        TrainableModel m = TrainableModel.Create(Layout("qwen3-bias", 1), 1);
        ParameterTensor Get(string name) => m.Parameters["model.layers.1.self_attn." + name];
        Assert.Equal([12, 8], Get("q_proj.weight").Shape);  // heads·head_dim × d = 2·6 × 8
        Assert.Equal([6, 8], Get("k_proj.weight").Shape);
        Assert.Equal([8, 12], Get("o_proj.weight").Shape);  // d × heads·head_dim
        Assert.Equal([6], Get("q_norm.weight").Shape);
        Assert.Equal([6], Get("k_norm.weight").Shape);
        Assert.True(Get("o_proj.bias").IsBias);
        Assert.All(m.Parameters.Value(Get("q_norm.weight")).ToArray(), v => Assert.Equal(1f, v));
        Assert.DoesNotContain(TrainableModel.Create(Layout("qwen3", 1), 1).Parameters.Tensors, t => t.Name.EndsWith(".bias"));
    }
}
