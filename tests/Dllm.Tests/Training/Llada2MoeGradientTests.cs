using System.Numerics.Tensors;
using Dllm.Model;
using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Training;

/// <summary>
/// Training through the LLaDA2.x router (<see cref="RouterScoring.Llada2Sigmoid"/>): every parameter's gradient
/// against finite differences of the cross-entropy (no auxiliary loss: LLaDA2 balances through the expert bias),
/// at points where no perturbation changes any token's experts (checked on every perturbed forward), with the
/// bounds of <see cref="MoeGradientTests"/>.
/// </summary>
public class Llada2MoeGradientTests
{
    private const double H = 3e-3, Bound = 3e-3, WholeBound = 1e-3, Floor = 0.1;
    private readonly ITestOutputHelper _out = TestContext.Current.TestOutputHelper!;

    /// <summary>MoeGradientTests' tiny model with a dense first layer, 8 experts of width 6 in 4 groups, topk_group 2,
    /// top-<paramref name="topK"/>, the expert bias, routed_scaling_factor 2.5, a shared expert of width 5.</summary>
    internal static ModelConfig TinyLlada2(int topK = 2, double auxLossCoef = 0) => MoeGradientTests.TinyMoe() with
    {
        Moe = MoeConfig.Create(layers: 2, experts: 8, topK: topK, expertHidden: 6, sharedExpertHidden: 5, denseLayers: 1, auxLossCoef: auxLossCoef) with
        {
            ExpertBias = true, Router = RouterScoring.Llada2Sigmoid, Groups = 4, TopKGroups = 2, RoutedScalingFactor = 2.5,
        },
    };

    [Theory]
    [InlineData(2, 53)]
    [InlineData(2, 56)]
    [InlineData(1, 42)]
    [InlineData(3, 55)]
    public void Every_parameter_gradient_matches_finite_differences(int topK, int seed)
    {
        ModelConfig config = TinyLlada2(topK);
        TrainableModel m = ModelGradientTests.RandomModel(config, seed);
        TrainingBatch batch = ModelGradientTests.RandomBatch(11, config.Pattern, seed + 100);
        int n = batch.Batch * batch.Length;
        m.ZeroGrad();
        m.Forward(batch);
        Assert.Equal(0, m.AuxiliaryLoss);
        int[] routing = m.Tape.Layers[1].Moe!.Selected.Take(n * topK).ToArray();
        m.Backward();
        float[] grads = (float[])m.Parameters.Grads.Clone();
        double[] numeric = GradCheck.Numeric(() =>
        {
            double f = m.Forward(batch);
            Assert.True(routing.AsSpan().SequenceEqual(m.Tape.Layers[1].Moe!.Selected.AsSpan(0, n * topK)),
                $"top-{topK} seed {seed}: a perturbation changed the routing; pick another seed");
            return f;
        }, m.Parameters.Values, H);
        double worst = 0;
        foreach (ParameterTensor t in m.Parameters.Tensors)
        {
            Span<float> analytic = grads.AsSpan((int)t.Offset, t.Length);
            if (t.Name.EndsWith(".expert_bias"))
            {
                Assert.All(analytic.ToArray(), g => Assert.Equal(0f, g));
                continue;
            }
            double e = GradCheck.RelativeError(analytic, numeric.AsSpan((int)t.Offset, t.Length));
            double norm = Math.Sqrt(TensorPrimitives.SumOfSquares(analytic));
            if (norm >= Floor) worst = Math.Max(worst, e);
            Assert.True(e * Math.Max(norm, 1e-30) < Bound * Math.Max(norm, Floor), $"top-{topK}: {t.Name} relative error {e:E3} (|g| = {norm:E2})");
        }
        var router = m.Parameters.Tensors.Single(t => t.Name.EndsWith("layers.1.mlp.gate.weight"));
        double routerNorm = Math.Sqrt(TensorPrimitives.SumOfSquares(grads.AsSpan((int)router.Offset, router.Length)));
        Assert.True(routerNorm > 0, "the router got no gradient");
        var trainable = m.Parameters.Tensors.Where(t => !t.Name.EndsWith(".expert_bias")).ToArray();
        double all = GradCheck.RelativeError(
            trainable.SelectMany(t => grads.AsSpan((int)t.Offset, t.Length).ToArray()).ToArray(),
            trainable.SelectMany(t => numeric.AsSpan((int)t.Offset, t.Length).ToArray()).ToArray());
        double routerErr = GradCheck.RelativeError(grads.AsSpan((int)router.Offset, router.Length), numeric.AsSpan((int)router.Offset, router.Length));
        _out.WriteLine($"top-{topK}: whole-model relative error {all:E2}, worst tensor {worst:E2}, router {routerErr:E2} (|g| {routerNorm:E2})");
        Assert.True(all < WholeBound, $"whole-model relative error {all:E3}");
    }

    [Fact]
    public void A_load_balancing_coefficient_is_refused()
    {
        ModelConfig config = TinyLlada2(auxLossCoef: 0.01);
        TrainableModel m = ModelGradientTests.RandomModel(config, 44);
        Assert.Throws<NotSupportedException>(() => m.Forward(ModelGradientTests.RandomBatch(11, config.Pattern, 144)));
    }
}
