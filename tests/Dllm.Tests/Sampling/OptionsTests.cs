using Dllm.Sampling;
using Xunit;

namespace Dllm.Tests.Sampling;

/// <summary>Option validation names the offending flag.</summary>
public class OptionsTests
{
    public static TheoryData<DecodingOptions, string> Bad() => new()
    {
        { new DecodingOptions { Threshold = 0 }, "threshold" },
        { new DecodingOptions { Threshold = 1.5 }, "threshold" },
        { new DecodingOptions { Threshold = double.NaN }, "threshold" },
        { new DecodingOptions { Factor = 0 }, "factor" },
        { new DecodingOptions { Factor = double.PositiveInfinity }, "factor" },
        { new DecodingOptions { AlgTemp = -1 }, "alg-temp" },
        { new DecodingOptions { AlgTemp = 1, Commit = CommitRule.Threshold }, "alg-temp" },
        { new DecodingOptions { DreamEps = 0 }, "dream-eps" },
        { new DecodingOptions { DreamEps = 1 }, "dream-eps" },
        { new DecodingOptions { Commit = CommitRule.Threshold, Generation = new GenerationOptions { Ordering = OrderingRule.Entropy } }, "entropy" },
        { new DecodingOptions { Commit = CommitRule.Factor, CustomOrdering = EntropyOrdering.Instance }, "entropy" },
        { new DecodingOptions { EarlyStop = true }, "eos-id" },
        { new DecodingOptions { EosId = -2 }, "eos-id" },
        { new DecodingOptions { RefreshInterval = -1, Cache = CacheMode.Dual }, "refresh-interval" },
        { new DecodingOptions { RefreshInterval = 2 }, "refresh-interval" },
        { new DecodingOptions { InfillBlockLength = 0 }, "infill-block-length" },
        { new DecodingOptions { Remdm = new RemdmLoop { Count = 0 } }, "remdm-count" },
        { new DecodingOptions { Remdm = new RemdmLoop { LoopSteps = 0 } }, "remdm-steps" },
        { new DecodingOptions { Remdm = new RemdmLoop { StartFraction = 1.1 } }, "remdm-start" },
        { new DecodingOptions { Generation = new GenerationOptions { Steps = 3, BlockLength = 64 } }, "steps" },
        { new DecodingOptions { Commit = (CommitRule)9 }, "commit" },
    };

    [Theory]
    [MemberData(nameof(Bad))]
    public void ValidationNamesTheFlag(DecodingOptions options, string flag)
        => Assert.Contains(flag, Assert.Throws<ArgumentException>(options.Validate).Message);

    [Fact]
    public void DefaultsAreTheReferenceConfiguration()
    {
        var o = new DecodingOptions();
        o.Validate();
        Assert.Same(SchedulePolicy.Reference, o.CreatePolicy());
        Assert.Same(LowConfidenceOrdering.Instance, o.CreateOrdering());
        Assert.Equal(CacheMode.None, o.Cache);
        Assert.False(o.EarlyStop);
        Assert.Null(o.Remdm);
        Assert.IsType<ThresholdPolicy>((o with { Commit = CommitRule.Threshold }).CreatePolicy());
        Assert.IsType<FactorPolicy>((o with { Commit = CommitRule.Factor }).CreatePolicy());
        Assert.Equal(0.5, Assert.IsType<DreamSchedulePolicy>((o with { Commit = CommitRule.Dream, AlgTemp = 0.5 }).CreatePolicy()).AlgTemp);
        new DecodingOptions { Commit = CommitRule.Threshold, Generation = new GenerationOptions { Ordering = OrderingRule.TopKMargin } }.Validate();
    }
}
