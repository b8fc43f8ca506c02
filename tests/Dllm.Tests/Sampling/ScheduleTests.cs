using Dllm.Sampling;
using Xunit;

namespace Dllm.Tests.Sampling;

/// <summary>The reference schedule: counts per step, block confinement, tie order, random ordering.</summary>
public class ScheduleTests
{
    [Fact]
    public void TransferScheduleSpreadsTheRemainderOverTheFirstSteps()
    {
        Assert.Equal([3, 3, 2, 2], TransferSchedule.Counts(10, 4));
        Assert.Equal([1, 1, 0, 0], TransferSchedule.Counts(2, 4));
        for (int s = 0; s < 5; s++) Assert.Equal(TransferSchedule.Counts(10, 4).Append(0).ElementAt(s), TransferSchedule.CountAt(10, 4, s));
    }

    [Fact]
    public void ReferenceCommitsTheScheduledCountEachStepAndTiesGoLeft()
    {
        // Every position has the same distribution: all scores tie, so the leftmost masked positions go first.
        var model = new FakeModel(5, (view, pos, row) => Rows.WithProbability(row, 2, 0.7));
        var steps = new List<DenoisingStep>();
        var r = new DiffusionSampler(model, 4).Generate([0, 1], new DecodingOptions { GenLength = 10, Steps = 4, BlockLength = 10 }, steps.Add);
        Assert.Equal([3, 3, 2, 2], steps.Select(s => s.CommittedPositions.Length));
        Assert.Equal([2, 3, 4], steps[0].CommittedPositions);
        Assert.Equal([5, 6, 7], steps[1].CommittedPositions);
        Assert.Equal([10, 11], steps[3].CommittedPositions);
        Assert.Equal(4, r.ForwardPasses);
        Assert.Equal([1, 2, 0], Selection.TopK([0.5, 0.7, 0.7], 3));
        Assert.Equal([0, 2], Selection.TopK([0.7, 0.1, 0.7], 2));
    }

    [Theory]
    [InlineData(OrderingRule.LowConfidence, 0.0)]
    [InlineData(OrderingRule.Random, 0.0)]
    [InlineData(OrderingRule.Random, 1.0)]
    public void SemiAutoregressiveStepsCommitOnlyMaskedPositionsOfTheCurrentBlock(OrderingRule kind, double temperature)
    {
        var model = new FakeModel(7, Rows.Hashed);
        var steps = new List<DenoisingStep>();
        var g = new DecodingOptions { GenLength = 12, Steps = 6, BlockLength = 4, Ordering = kind, Temperature = temperature, Seed = 9 };
        var r = new DiffusionSampler(model, 6).Generate([1, 2, 3], g, steps.Add);
        int[] previous = [1, 2, 3, .. Enumerable.Repeat(6, 12)];
        foreach (DenoisingStep s in steps)
        {
            int start = 3 + s.Block * 4;
            Assert.Equal(TransferSchedule.CountAt(4, 2, s.StepInBlock), s.CommittedPositions.Length);
            foreach (int p in s.CommittedPositions)
            {
                Assert.InRange(p, start, start + 3);
                Assert.Equal(6, previous[p]);
            }
            // Nothing else changed.
            for (int i = 0; i < previous.Length; i++)
                if (!s.CommittedPositions.Contains(i)) Assert.Equal(previous[i], s.Canvas[i]);
            previous = s.Canvas;
        }
        Assert.Equal(6, r.ForwardPasses);
    }

    [Fact]
    public void RandomOrderingOrderDependsOnTheSeed()
    {
        var model = new FakeModel(7, (view, pos, row) => Rows.WithProbability(row, 1, 0.9));
        int[] Order(int seed)
        {
            var steps = new List<DenoisingStep>();
            new DiffusionSampler(model, 6).Generate([0], new DecodingOptions { GenLength = 8, Steps = 8, BlockLength = 8, Ordering = OrderingRule.Random, Seed = seed }, steps.Add);
            return [.. steps.Select(s => s.CommittedPositions.Single())];
        }
        Assert.Equal(Enumerable.Range(1, 8), Order(1).Order());
        Assert.NotEqual(Order(1), Order(2));
        Assert.Equal(Order(3), Order(3));
    }

    [Fact]
    public void ClassifierFreeGuidanceCombinesAsULPlusWPlusOneTimesCMinusU()
    {
        float[] c = [1, 2, -1], u = [0.5f, 3, -1];
        ClassifierFreeGuidance.Combine(c, u, 2.0);
        Assert.Equal([0.5f + 3 * 0.5f, 3 + 3 * -1f, -1], c);

        // The model receives the conditional canvas and, second, the same canvas with the prompt masked.
        var model = new FakeModel(5, Rows.Hashed);
        new DiffusionSampler(model, 4).Generate([1, 2], new DecodingOptions { GenLength = 2, Steps = 2, BlockLength = 2, CfgScale = 1 });
        ModelCall last = model.Calls[^1];
        Assert.Equal(2, last.Batch);
        int[] cond = last.Tokens[..4], uncond = last.Tokens[4..];
        Assert.Equal([1, 2], cond[..2]);
        Assert.Equal([4, 4], uncond[..2]);
        Assert.Equal(cond[2..], uncond[2..]);
    }
}
