using Dllm.Sampling;
using Xunit;

namespace Dllm.Tests.Sampling;

/// <summary>The position-scoring rules: values on known distributions and the positions they pick.</summary>
public class OrderingTests
{
    private static float[] FromProbabilities(params double[] p) => [.. p.Select(q => (float)Math.Log(q))];

    [Fact]
    public void ScoresHaveTheirDefiningValues()
    {
        float[] row = FromProbabilities(0.5, 0.3, 0.2);
        var rng = new Random(0);
        Assert.Equal(0.3, LowConfidenceOrdering.Instance.Score(row, 1, rng), 6);
        Assert.Equal(0.5 - 0.3, TopKMarginOrdering.Instance.Score(row, 2, rng), 6); // independent of the token
        double negH = 0.5 * Math.Log(0.5) + 0.3 * Math.Log(0.3) + 0.2 * Math.Log(0.2);
        Assert.Equal(negH, EntropyOrdering.Instance.Score(row, 0, rng), 6);
        Assert.Equal(0, EntropyOrdering.Instance.Score(FromProbabilities(1 - 1e-12, 1e-12 / 2, 1e-12 / 2), 0, rng), 6);
        Assert.Equal(-Math.Log(4), EntropyOrdering.Instance.Score(new float[4], 0, rng), 6);
        Assert.Equal(0, TopKMarginOrdering.Instance.Score(new float[4], 0, rng), 12);
        Assert.Equal(1, TopKMarginOrdering.Instance.Score(new float[1], 0, rng));
        double u = new Random(42).NextDouble();
        Assert.Equal(u, RandomOrdering.Instance.Score(row, 0, new Random(42)));
    }

    // Four answer positions with fixed distributions, chosen so each rule prefers a different one:
    //   A: (.50 .45 .05)  p(x0)=.50 (best),  margin .05, −H −.86
    //   B: (.40 .20 .20 .20) p=.40, margin .20 (best), −H −1.33
    //   C: (.45 .45 .10)  p=.45, margin 0,    −H −.95
    //   D: (.49 .49 .02)  p=.49, margin 0,    −H −.78 (best)
    private static readonly double[][] Dists =
    [
        [0.5, 0.45, 0.05, 1e-12],
        [0.4, 0.2, 0.2, 0.2],
        [0.45, 0.45, 0.1, 1e-12],
        [0.49, 0.49, 0.02, 1e-12],
    ];

    [Theory]
    [InlineData(OrderingRule.LowConfidence, 1)]
    [InlineData(OrderingRule.TopKMargin, 2)]
    [InlineData(OrderingRule.Entropy, 4)]
    public void EachOrderingCommitsItsBestPositionFirst(OrderingRule rule, int expectedPosition)
    {
        var model = new FakeModel(4, (view, pos, row) => FromProbabilities(Dists[pos - 1]).CopyTo(row));
        var steps = new List<DenoisingStep>();
        var options = new DecodingOptions { GenLength = 4, Steps = 4, BlockLength = 4, Ordering = rule };
        new DiffusionSampler(model, 3).Generate([0], options, steps.Add);
        Assert.Equal([expectedPosition], steps[0].CommittedPositions);
    }

    [Fact]
    public void ACustomOrderingOverridesTheRule()
    {
        var model = new FakeModel(4, (view, pos, row) => FromProbabilities(Dists[pos - 1]).CopyTo(row));
        var steps = new List<DenoisingStep>();
        var options = new DecodingOptions { GenLength = 4, Steps = 4, BlockLength = 4, CustomOrdering = TopKMarginOrdering.Instance };
        new DiffusionSampler(model, 3).Generate([0], options, steps.Add);
        Assert.Equal([2], steps[0].CommittedPositions);
    }
}
