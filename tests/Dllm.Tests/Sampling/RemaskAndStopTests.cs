using Dllm.Sampling;
using Xunit;

namespace Dllm.Tests.Sampling;

/// <summary>ReMDM loop remasking and early stop at EOS.</summary>
public class RemaskAndStopTests
{
    [Fact]
    public void RemdmLoopRemasksTheLowestRecordedCommitsOfTheBlockAndKeepsTheMaskedCount()
    {
        const int mask = 7;
        var model = new FakeModel(8, Rows.Hashed);
        var steps = new List<DenoisingStep>();
        var loop = new RemdmLoop { Count = 2, LoopSteps = 3, StartFraction = 0.75 };
        var options = new DecodingOptions { GenLength = 16, Steps = 16, BlockLength = 8, Temperature = 0.7, Seed = 3, Remdm = loop };
        int[] prompt = [1, 2, 3];
        GenerationResult r = new DiffusionSampler(model, mask).Generate(prompt, options, steps.Add);

        Assert.Equal(16 + 2 * 3, r.ForwardPasses); // 8 schedule steps + 3 loop steps per block
        Assert.Equal(22, r.Steps);
        Assert.Equal(prompt, r.Canvas[..3]);
        Assert.DoesNotContain(mask, r.Canvas);

        var recorded = new Dictionary<int, double>();
        int[] previous = [.. prompt, .. Enumerable.Repeat(mask, 16)];
        int loopSteps = 0;
        foreach (DenoisingStep s in steps)
        {
            int start = 3 + 8 * s.Block;
            if (s.IsRemaskStep)
            {
                loopSteps++;
                // Starts once ≥ 75 % of the block is committed: 6 of 8.
                int committedInBlock = Enumerable.Range(start, 8).Count(p => previous[p] != mask);
                Assert.True(committedInBlock >= 6);
                Assert.Equal(2, s.RemaskedPositions.Length);
                Assert.Equal(2, s.CommittedPositions.Length); // masked count unchanged
                // The remasked ones are the committed block positions with the lowest recorded scores.
                int[] expected = [.. Enumerable.Range(start, 8).Where(p => previous[p] != mask).OrderBy(p => recorded[p]).ThenBy(p => p).Take(2)];
                Assert.Equal(expected, s.RemaskedPositions);
                Assert.All(s.RemaskedPositions, p => Assert.InRange(p, start, start + 7));
            }
            else Assert.Single(s.CommittedPositions);
            for (int j = 0; j < s.CommittedPositions.Length; j++) recorded[s.CommittedPositions[j]] = s.CommittedScores[j];
            Assert.Equal(previous.Count(t => t == mask) - s.CommittedPositions.Length + s.RemaskedPositions.Length, s.Canvas.Count(t => t == mask));
            previous = s.Canvas;
        }
        Assert.Equal(6, loopSteps);
    }

    [Fact]
    public void RemdmIsOffByDefault()
    {
        var model = new FakeModel(8, Rows.Hashed);
        var steps = new List<DenoisingStep>();
        new DiffusionSampler(model, 7).Generate([1], new DecodingOptions { GenLength = 8, Steps = 8, BlockLength = 8 }, steps.Add);
        Assert.DoesNotContain(steps, s => s.IsRemaskStep);
    }

    /// <summary>
    /// The answer is "1 2 3" then EOS (4) forever; answer tokens are surer than EOS, and EOS grows
    /// less sure to the right, so decoding commits the answer, then the EOS tail left to right.
    /// </summary>
    private static FakeModel EosTail() => new(6, (view, pos, row) =>
    {
        int a = pos - 1; // answer index (prompt of 1)
        if (a < 3) Rows.WithProbability(row, a + 1, 0.99);
        else Rows.WithProbability(row, 4, 0.9 - 0.01 * a);
    });

    [Theory]
    [InlineData(16, 16, CommitRule.Schedule)]
    [InlineData(16, 4, CommitRule.Schedule)]
    [InlineData(16, 16, CommitRule.Threshold)]
    public void EarlyStopSavesForwardsAndChangesNothing(int steps, int blockLength, CommitRule rule)
    {
        var g = new DecodingOptions { GenLength = 16, Steps = steps, BlockLength = blockLength };
        var full = new DiffusionSampler(EosTail(), 5).Generate([0], g with { Commit = rule, Threshold = 0.95 });
        var stopped = new DiffusionSampler(EosTail(), 5).Generate([0], g with { Commit = rule, Threshold = 0.95, EarlyStop = true, EosId = 4 });
        Assert.Equal(full.Canvas, stopped.Canvas);
        Assert.Equal([0, 1, 2, 3, .. Enumerable.Repeat(4, 13)], stopped.Canvas);
        Assert.True(stopped.StoppedEarly);
        Assert.False(full.StoppedEarly);
        Assert.True(stopped.ForwardPasses < full.ForwardPasses, $"{stopped.ForwardPasses} vs {full.ForwardPasses}");
        Assert.Equal(rule == CommitRule.Threshold ? 2 : 4, stopped.ForwardPasses);
    }

    [Fact]
    public void EarlyStopWaitsUntilEverythingBeforeTheEosIsUnmasked()
    {
        // EOS at answer index 3 is the surest prediction, the answer before it is not yet committed.
        var model = new FakeModel(6, (view, pos, row) =>
        {
            int a = pos - 1;
            if (a < 3) Rows.WithProbability(row, a + 1, 0.5 + 0.1 * a);
            else Rows.WithProbability(row, 4, a == 3 ? 0.99 : 0.2);
        });
        var steps = new List<DenoisingStep>();
        var r = new DiffusionSampler(model, 5).Generate([0], new DecodingOptions
        {
            GenLength = 8, Steps = 8, BlockLength = 8, EarlyStop = true, EosId = 4,
        }, steps.Add);
        Assert.Equal([4], steps[0].CommittedPositions);
        Assert.Equal(4, r.ForwardPasses); // EOS, then the three answer tokens, then stop
        Assert.Equal([0, 1, 2, 3, 4, 4, 4, 4, 4], r.Canvas);
    }
}
