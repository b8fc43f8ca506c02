using Dllm.Sampling;
using Xunit;

namespace Dllm.Tests.Sampling;

/// <summary>Fast-dLLM threshold and factor rules, Dream's schedule and alg_temp.</summary>
public class PolicyTests
{
    /// <summary>A model whose predicted token at answer position i (0-based) has probability conf[i].</summary>
    private static FakeModel Confident(int promptLength, params double[] conf)
        => new(6, (view, pos, row) => Rows.WithProbability(row, 1 + (pos % 4), conf[pos - promptLength]));

    private static DecodingOptions Opts(int gen, int steps, int block, CommitRule rule, double threshold = 0.9, double factor = 1)
        => new() { GenLength = gen, Steps = steps, BlockLength = block, Commit = rule, Threshold = threshold, Factor = factor };

    [Fact]
    public void ThresholdFinishesAConfidentBlockInOneStep()
    {
        var model = Confident(1, [.. Enumerable.Repeat(0.95, 8)]);
        var steps = new List<DenoisingStep>();
        GenerationResult r = new DiffusionSampler(model, 5).Generate([0], Opts(8, 8, 4, CommitRule.Threshold), steps.Add);
        Assert.Equal(2, r.ForwardPasses); // one per block
        Assert.Equal([4, 4], steps.Select(s => s.CommittedPositions.Length));
        Assert.Equal([1, 2, 3, 4], steps[0].CommittedPositions.Order());
        Assert.DoesNotContain(5, r.Canvas);
    }

    [Fact]
    public void ThresholdCommitsExactlyOnePerStepWhenNothingReachesIt()
    {
        var model = Confident(1, 0.5, 0.6, 0.7, 0.8, 0.3, 0.2, 0.4, 0.1);
        var steps = new List<DenoisingStep>();
        GenerationResult r = new DiffusionSampler(model, 5).Generate([0], Opts(8, 8, 8, CommitRule.Threshold), steps.Add);
        Assert.Equal(8, r.ForwardPasses);
        Assert.All(steps, s => Assert.Single(s.CommittedPositions));
        Assert.Equal([4, 3, 2, 1, 7, 5, 6, 8], steps.Select(s => s.CommittedPositions[0])); // best first
    }

    [Fact]
    public void ThresholdCommitsEveryPositionAtOrAboveTau()
    {
        var model = Confident(1, 0.95, 0.5, 0.9, 0.3);
        var steps = new List<DenoisingStep>();
        new DiffusionSampler(model, 5).Generate([0], Opts(4, 4, 4, CommitRule.Threshold), steps.Add);
        Assert.Equal([1, 3], steps[0].CommittedPositions);
        Assert.Equal([2], steps[1].CommittedPositions);
        Assert.Equal([4], steps[2].CommittedPositions);
        Assert.Equal(3, steps.Count);
    }

    [Theory]
    // f = 1: levels c(2) ≥ 2/3, c(3) ≥ 3/4, c(4) ≥ 4/5, c(5) ≥ 5/6.
    [InlineData(1.0, new[] { 0.99, 0.9, 0.76, 0.5 }, 3)]
    [InlineData(1.0, new[] { 0.99, 0.9, 0.76, 0.79 }, 3)]   // only the last fails: N − 1 (the reference's quirk would give N)
    [InlineData(1.0, new[] { 0.99, 0.9, 0.8, 0.8 }, 4)]     // ties at the level pass
    [InlineData(1.0, new[] { 0.3, 0.2 }, 1)]                // the best one always
    [InlineData(1.0, new[] { 0.3 }, 1)]
    [InlineData(1.0, new double[0], 0)]
    [InlineData(3.0, new[] { 0.1, 0.05, 0.01, 0.001 }, 2)]  // c(2) ≥ 0 passes, c(3) ≥ 1/4 fails
    [InlineData(0.1, new[] { 0.99, 0.97, 0.96 }, 2)]        // c(2) ≥ 0.9667 passes, c(3) ≥ 0.975 fails
    public void FactorRuleCountsTheLongestPassingPrefix(double factor, double[] sorted, int expected)
        => Assert.Equal(expected, new FactorPolicy(factor).Count(sorted));

    [Fact]
    public void FactorRuleDrivesTheSampler()
    {
        var model = Confident(1, 0.5, 0.99, 0.76, 0.9);
        var steps = new List<DenoisingStep>();
        GenerationResult r = new DiffusionSampler(model, 5).Generate([0], Opts(4, 4, 4, CommitRule.Factor), steps.Add);
        Assert.Equal([2, 4, 3], steps[0].CommittedPositions);
        Assert.Equal([1], steps[1].CommittedPositions);
        Assert.Equal(2, r.ForwardPasses);
    }

    [Fact]
    public void DreamTimesAreTorchLinspace()
    {
        var p = new DreamSchedulePolicy(1e-3);
        Assert.Equal(1f, p.Time(0, 4));
        Assert.Equal((float)1e-3, p.Time(4, 4));
        Assert.Equal(0.75025f, p.Time(1, 4), 5);
        Assert.Equal(0.5005f, p.Time(2, 4), 5);
        // t = 1, .75025, .5005, .25075: 16·.24975 → 3; 13·.33289 → 4; 9·.49900 → 4; last: all 5.
        Assert.Equal(3, p.Count(16, 0, 4));
        Assert.Equal(4, p.Count(13, 1, 4));
        Assert.Equal(4, p.Count(9, 2, 4));
        Assert.Equal(5, p.Count(5, 3, 4));
    }

    [Fact]
    public void DreamScheduleCommitsItsCountsPerStep()
    {
        var model = new FakeModel(6, Rows.Hashed);
        var steps = new List<DenoisingStep>();
        var options = Opts(16, 4, 16, CommitRule.Dream) with { GenLength = 16, Steps = 4, BlockLength = 16, Ordering = OrderingRule.Entropy };
        GenerationResult r = new DiffusionSampler(model, 5).Generate([0], options, steps.Add);
        Assert.Equal([3, 4, 4, 5], steps.Select(s => s.CommittedPositions.Length));
        Assert.Equal(4, r.ForwardPasses);
        Assert.DoesNotContain(5, r.Canvas);
    }

    [Fact]
    public void AlgTempDrawsDistinctPositionsAndKeepsTheCounts()
    {
        var model = new FakeModel(6, Rows.Hashed);
        var steps = new List<DenoisingStep>();
        var options = Opts(16, 4, 16, CommitRule.Dream) with { AlgTemp = 0.5, GenLength = 16, Steps = 4, BlockLength = 16, Seed = 4 };
        GenerationResult r = new DiffusionSampler(model, 5).Generate([0], options, steps.Add);
        Assert.Equal([3, 4, 4, 5], steps.Select(s => s.CommittedPositions.Length));
        Assert.Equal(Enumerable.Range(1, 16), steps.SelectMany(s => s.CommittedPositions).Order());
        Assert.DoesNotContain(5, r.Canvas);
    }

    [Fact]
    public void SamplingWithoutReplacementIsDistinctAndSkipsMinusInfinityWhileItCan()
    {
        double[] scores = [0.1, double.NegativeInfinity, 0.3, 0.2, double.NegativeInfinity];
        for (int seed = 0; seed < 20; seed++)
        {
            int[] pick = Selection.SampleWithoutReplacement(scores, 3, 1.0, new Random(seed));
            Assert.Equal([0, 2, 3], pick.Order());
        }
        Assert.Equal([2, 3, 0, 1], Selection.SampleWithoutReplacement(scores, 4, 1e-9, new Random(1)));
        Assert.Equal(Selection.TopK(scores, 2), Selection.SampleWithoutReplacement(scores, 2, 0, new Random(1)));
        // A high temperature is close to uniform: the worst score is picked first sometimes.
        Assert.Contains(Enumerable.Range(0, 200), s => Selection.SampleWithoutReplacement([0.1, 0.2, 0.3], 1, 100, new Random(s))[0] == 0);
    }
}
