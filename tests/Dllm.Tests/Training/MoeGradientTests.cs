using System.Numerics.Tensors;
using Dllm.Model;
using Dllm.Tensors;
using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Training;

/// <summary>
/// Mixture-of-experts training: every parameter's gradient (router, every expert, the shared expert,
/// dense layers, attention) against finite differences of the whole objective (cross-entropy plus the
/// load-balancing loss), at a point where no perturbation changes any token's choice of experts (checked
/// on every perturbed forward); the training loss equal to the sampling logits' cross-entropy plus the
/// auxiliary loss; routing invariants.
/// </summary>
public class MoeGradientTests
{
    /// <summary>
    /// The step and bounds of <see cref="ModelGradientTests"/> (same sizes, same float32 rounding), except that a
    /// tensor whose gradient norm is below <see cref="Floor"/> is judged against Bound·Floor in absolute terms:
    /// an expert that two tokens chose has a gradient of norm ~0.05, and the finite differences' rounding noise
    /// (~1e-7·|loss|/h per entry, ~3e-4 over such a tensor at h = 3e-3) is then several 1e-3 of it. A larger h
    /// would flip routing choices. Measured with the seeds below: worst relative error 2e-3 on tensors above
    /// the floor, whole model 0.9e-4..1.4e-4.
    /// </summary>
    private const double H = 3e-3, Bound = 3e-3, WholeBound = 1e-3, Floor = 0.1;
    private readonly ITestOutputHelper _out = TestContext.Current.TestOutputHelper!;

    /// <summary>
    /// A tiny LLaDA-MoE config over 11 tokens: d 8, 2 heads (1 kv), 2 layers, 4 experts of width 6, top-2,
    /// aux coefficient 0.1 (large, so its gradient shows). Variants: "moe" (every layer routed), "shared"
    /// (layer 0 dense, a shared expert of width 5, the expert bias), "top1", "causal" (the AR baseline's attention).
    /// </summary>
    internal static ModelConfig TinyMoe(string variant = "moe")
    {
        ModelConfig c = ModelGradientTests.Tiny(kvHeads: 1) with
        {
            Family = ModelFamily.LladaMoe, Architectures = [LladaMoeConfig.Architecture], ModelType = "llada",
            Moe = MoeConfig.Create(layers: 2, experts: 4, topK: variant == "top1" ? 1 : 2, expertHidden: 6, auxLossCoef: 0.1,
                sharedExpertHidden: variant == "shared" ? 5 : 0, denseLayers: variant == "shared" ? 1 : 0) with { ExpertBias = variant == "shared" },
        };
        return variant == "causal" ? c.As(ModelKind.Autoregressive) : c;
    }

    /// <summary>Every routing choice of the last training forward, MoE layer after MoE layer: the experts each
    /// token runs, then the top-k of the bias-free probabilities the load-balancing loss counts.</summary>
    internal static int[] Routing(TrainableModel m, int n)
    {
        MoeConfig moe = m.Config.Moe!;
        var all = new List<int>();
        var sel = new int[moe.TopK];
        var val = new float[moe.TopK];
        foreach (int l in Enumerable.Range(0, m.Config.NLayers).Where(moe.IsMoeLayer))
        {
            MoeActivations a = m.Tape.Layers[l].Moe!;
            all.AddRange(a.Selected.Take(n * moe.TopK));
            for (int t = 0; t < n; t++)
            {
                TopKRouter.TopK(a.Probs.AsSpan(t * moe.Experts, moe.Experts), default, sel, val);
                all.AddRange(sel);
            }
        }
        return all.ToArray();
    }

    [Theory]
    [InlineData("moe", 21)]
    [InlineData("shared", 22)]
    [InlineData("top1", 23)]
    [InlineData("causal", 24)]
    public void Every_parameter_gradient_matches_finite_differences(string variant, int seed)
    {
        ModelConfig config = TinyMoe(variant);
        TrainableModel m = ModelGradientTests.RandomModel(config, seed);
        TrainingBatch batch = ModelGradientTests.RandomBatch(11, config.Pattern, seed + 100);
        int n = batch.Batch * batch.Length;
        m.ZeroGrad();
        m.Forward(batch);
        Assert.True(m.AuxiliaryLoss > 0);
        int[] routing = Routing(m, n);
        m.Backward();
        float[] grads = (float[])m.Parameters.Grads.Clone();
        double[] numeric = GradCheck.Numeric(() =>
        {
            double f = m.Forward(batch);
            Assert.True(routing.AsSpan().SequenceEqual(Routing(m, n)), $"{variant} seed {seed}: a perturbation changed the routing; pick another seed");
            return f;
        }, m.Parameters.Values, H);
        double worst = 0;
        foreach (ParameterTensor t in m.Parameters.Tensors)
        {
            Span<float> analytic = grads.AsSpan((int)t.Offset, t.Length);
            if (t.Name.EndsWith(".expert_bias"))
            {
                Assert.All(analytic.ToArray(), g => Assert.Equal(0f, g)); // a buffer: never trained
                continue;
            }
            double e = GradCheck.RelativeError(analytic, numeric.AsSpan((int)t.Offset, t.Length));
            if (Math.Sqrt(TensorPrimitives.SumOfSquares(analytic)) >= Floor) worst = Math.Max(worst, e);
            double norm = Math.Sqrt(TensorPrimitives.SumOfSquares(analytic));
            Assert.True(e * Math.Max(norm, 1e-30) < Bound * Math.Max(norm, Floor), $"{variant}: {t.Name} relative error {e:E3} (|g| = {norm:E2})");
        }
        var trainable = m.Parameters.Tensors.Where(t => !t.Name.EndsWith(".expert_bias")).ToArray();
        double all = GradCheck.RelativeError(
            trainable.SelectMany(t => grads.AsSpan((int)t.Offset, t.Length).ToArray()).ToArray(),
            trainable.SelectMany(t => numeric.AsSpan((int)t.Offset, t.Length).ToArray()).ToArray());
        _out.WriteLine($"{variant}: whole-model relative error {all:E2}, worst tensor {worst:E2}, aux loss {m.AuxiliaryLoss:F4}");
        Assert.True(all < WholeBound, $"whole-model relative error {all:E3}");
    }
}
