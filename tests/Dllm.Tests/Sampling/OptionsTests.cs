using Dllm.Sampling;
using Xunit;

namespace Dllm.Tests.Sampling;

/// <summary>Option validation: the knob at fault as data, each knob a message mentions spelled by the front end.</summary>
public class OptionsTests
{
    public static TheoryData<DecodingOptions, string, string> Bad() => new()
    {
        // options, the knob at fault, a word the message must contain
        { new DecodingOptions { MaxTokens = 0 }, "max_tokens", "max_tokens" },
        { new DecodingOptions { GenLength = 0 }, "gen_length", "positive" },
        { new DecodingOptions { BlockLength = 0 }, "block_length", "positive" },
        { new DecodingOptions { GenLength = 10, BlockLength = 4 }, "gen_length", "multiple of block_length" },
        { new DecodingOptions { Steps = 3, BlockLength = 64 }, "steps", "steps" },
        { new DecodingOptions { Threshold = 0 }, "threshold", "threshold" },
        { new DecodingOptions { Threshold = 1.5 }, "threshold", "threshold" },
        { new DecodingOptions { Threshold = double.NaN }, "threshold", "threshold" },
        { new DecodingOptions { Factor = 0 }, "factor", "factor" },
        { new DecodingOptions { Factor = double.PositiveInfinity }, "factor", "factor" },
        { new DecodingOptions { AlgTemp = -1 }, "alg_temp", "alg_temp" },
        { new DecodingOptions { AlgTemp = 1, Commit = CommitRule.Threshold }, "alg_temp", "alg_temp" },
        { new DecodingOptions { DreamEps = 0 }, "dream_eps", "dream_eps" },
        { new DecodingOptions { DreamEps = 1 }, "dream_eps", "dream_eps" },
        { new DecodingOptions { Commit = CommitRule.Threshold, Ordering = OrderingRule.Entropy }, "commit", "entropy" },
        { new DecodingOptions { Commit = CommitRule.Factor, CustomOrdering = EntropyOrdering.Instance }, "commit", "entropy" },
        { new DecodingOptions { EarlyStop = true }, "early_stop", "eos_id" },
        { new DecodingOptions { EosId = -2 }, "eos_id", "eos_id" },
        { new DecodingOptions { RefreshInterval = -1, Cache = CacheMode.Dual }, "refresh_interval", "refresh_interval" },
        { new DecodingOptions { RefreshInterval = 2 }, "refresh_interval", "refresh_interval" },
        { new DecodingOptions { InfillBlockLength = 0 }, "infill_block_length", "infill_block_length" },
        { new DecodingOptions { Remdm = new RemdmLoop { Count = 0 } }, "remdm", "remdm" },
        { new DecodingOptions { Remdm = new RemdmLoop { LoopSteps = 0 } }, "remdm_steps", "remdm_steps" },
        { new DecodingOptions { Remdm = new RemdmLoop { StartFraction = 1.1 } }, "remdm_start", "remdm_start" },
        { new DecodingOptions { Commit = (CommitRule)9 }, "commit", "commit" },
    };

    [Theory]
    [MemberData(nameof(Bad))]
    public void ValidationNamesTheKnobAsData(DecodingOptions options, string knob, string mention)
    {
        var e = Assert.Throws<DecodingOptionException>(options.Validate);
        Assert.Equal(knob, e.Knob);
        Assert.Contains(mention, e.Message);
    }

    [Fact]
    public void EachFrontEndSpellsEveryKnobAMessageMentions()
    {
        var e = Assert.Throws<DecodingOptionException>(new DecodingOptions { RefreshInterval = 2 }.Validate);
        Assert.Equal("refresh_interval needs a cache (cache prefix or dual)", e.Message);
        Assert.Equal("--refresh-interval needs a cache (--cache prefix or dual)", e.Spell(k => "--" + k.Replace('_', '-')));
        e = Assert.Throws<DecodingOptionException>(new DecodingOptions { GenLength = 64, BlockLength = 32, Steps = 3 }.Validate);
        Assert.Equal("steps (3) must be a multiple of the number of blocks (2 = gen_length / block_length)", e.Message);
    }

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
        new DecodingOptions { Commit = CommitRule.Threshold, Ordering = OrderingRule.TopKMargin }.Validate();
    }
}
