using System.Text.Json;
using Dllm.Chat;
using Dllm.Sampling;

namespace Dllm.Tests.Chat;

/// <summary>The knob binder: names, types per source (text, JSON, .NET values), defaults, the lengths it derives.</summary>
public class DecodingKnobsTests
{
    private const int Eos = 257;

    [Fact]
    public void DefaultsAreTheReferenceChatSettings()
    {
        DecodingOptions o = new DecodingKnobs().Build(Eos);
        Assert.Equal(128, o.GenLength);
        Assert.Equal(32, o.BlockLength);
        Assert.Equal(128, o.Steps);
        Assert.Equal(0, o.Temperature);
        Assert.Equal(OrderingRule.LowConfidence, o.Ordering);
        Assert.Equal(CommitRule.Schedule, o.Commit);
        Assert.Equal(CacheMode.None, o.Cache);
        Assert.Null(o.Remdm);
    }

    [Fact]
    public void TextValuesSetEveryKnobAndNamesIgnoreCaseAndDashes()
    {
        var k = new DecodingKnobs();
        k.Set("gen-length", "64"); k.Set("STEPS", "32"); k.Set("block_length", "16"); k.Set("temperature", "0.5");
        k.Set("cfg-scale", "1.5"); k.Set("remasking", "topk-margin"); k.Set("commit", "threshold"); k.Set("threshold", "0.8");
        k.Set("cache", "dual"); k.Set("refresh-interval", "4"); k.Set("early_stop", "on"); k.Set("remdm", "2"); k.Set("seed", "7");
        DecodingOptions o = k.Build(Eos);
        Assert.Equal((64, 32, 16, 0.5, 1.5, OrderingRule.TopKMargin, 7), (o.GenLength, o.Steps, o.BlockLength!.Value,
            o.Temperature, o.CfgScale, o.Ordering, o.Seed));
        Assert.Equal((CommitRule.Threshold, 0.8, CacheMode.Dual, 4, true, Eos, 2), (o.Commit, o.Threshold, o.Cache, o.RefreshInterval, o.EarlyStop, o.EosId!.Value, o.Remdm!.Count));
    }

    [Theory]
    [InlineData("steps", "abc", "steps must be an integer, got 'abc'")]
    [InlineData("temperature", "warm", "temperature must be a number")]
    [InlineData("early_stop", "maybe", "early_stop must be true or false")]
    [InlineData("remasking", "best", "remasking must be one of low_confidence, random, topk_margin, entropy; got 'best'")]
    [InlineData("cache", "full", "cache must be one of none, prefix, dual")]
    [InlineData("top_k", "3", "unknown decoding option 'top_k'")]
    public void BadTextNamesTheKnob(string name, string value, string message)
    {
        var e = Assert.Throws<DecodingOptionException>(() => new DecodingKnobs().Set(name, value));
        Assert.Contains(message, e.Message);
        Assert.Equal(name, e.Knob);
    }

    [Theory]
    [InlineData("steps", "\"16\"", "steps must be an integer, got the string \"16\"")]
    [InlineData("steps", "16.5", "steps must be an integer, got the number 16.5")]
    [InlineData("cfg_scale", "true", "cfg_scale must be a number, got the boolean true")]
    [InlineData("early_stop", "1", "early_stop must be a boolean, got the number 1")]
    [InlineData("remasking", "2", "remasking must be a string, got the number 2")]
    [InlineData("block_length", "[32]", "block_length must be an integer, got an array")]
    public void JsonValuesAreTypedStrictly(string name, string json, string message)
    {
        using var doc = JsonDocument.Parse(json);
        var e = Assert.Throws<DecodingOptionException>(() => new DecodingKnobs().Set(name, doc.RootElement));
        Assert.Equal(message, e.Message);
        Assert.Equal(name, e.Knob);
    }

    [Fact]
    public void JsonValuesOfTheRightTypeAndNullReset()
    {
        var k = new DecodingKnobs();
        k.Set("steps", JsonDocument.Parse("16").RootElement);
        k.Set("temperature", JsonDocument.Parse("1").RootElement);
        k.Set("commit", JsonDocument.Parse("\"factor\"").RootElement);
        DecodingOptions o = k.Build(Eos);
        Assert.Equal((16, 1.0, CommitRule.Factor), (k.Steps!.Value, o.Temperature, o.Commit));
        k.Set("steps", JsonDocument.Parse("null").RootElement);
        k.Set("commit", (object?)null);
        Assert.Null(k.Steps);
        Assert.Equal(CommitRule.Schedule, k.Build(Eos).Commit);
    }

    [Fact]
    public void DotNetValuesAcceptNumbersBooleansStringsAndTheEnums()
    {
        var k = new DecodingKnobs();
        k.Set("steps", (object)16L); k.Set("block_length", (object)8.0); k.Set("temperature", (object)1); k.Set("early_stop", (object)true);
        k.Set("remasking", (object)OrderingRule.Entropy); k.Set("cache", (object)"prefix");
        DecodingOptions o = k.Build(Eos);
        Assert.Equal((16, 8, 1.0, true, OrderingRule.Entropy, CacheMode.Prefix), (k.Steps!.Value, k.BlockLength!.Value, o.Temperature, o.EarlyStop, o.Ordering, o.Cache));
        Assert.Contains("steps must be an integer", Assert.Throws<DecodingOptionException>(() => k.Set("steps", (object)2.5)).Message);
        Assert.Contains("early_stop must be a boolean", Assert.Throws<DecodingOptionException>(() => k.Set("early_stop", (object)1)).Message);
        Assert.Contains("cannot be set to a cache value", Assert.Throws<DecodingOptionException>(() => k.Set("remasking", (object)CacheMode.Dual)).Message);
        Assert.Contains("out of range", Assert.Throws<DecodingOptionException>(() => k.Set("seed", (object)long.MaxValue)).Message);
    }

    [Theory]
    [InlineData(100, 128, 100)] // rounded up to whole 32-token blocks, answer capped at 100
    [InlineData(64, 64, 64)]
    [InlineData(10, 10, 10)]    // shorter than a block: one block of 10
    public void MaxTokensSetsTheCanvasInWholeBlocksAndCapsTheAnswer(int maxTokens, int genLength, int cap)
    {
        var k = new DecodingKnobs { MaxTokens = maxTokens };
        DecodingOptions o = k.Build(Eos);
        Assert.Equal(genLength, o.GenLength);
        Assert.Equal(genLength, o.Steps);
        Assert.Equal(cap, o.MaxAnswerTokens);
        o.Validate();
    }

    [Fact]
    public void ExplicitGenLengthWinsOverMaxTokensWhichOnlyCaps()
    {
        DecodingOptions o = new DecodingKnobs { MaxTokens = 500, GenLength = 64 }.Build(Eos);
        Assert.Equal((64, 64), (o.GenLength, o.MaxAnswerTokens));
    }

    [Theory]
    [InlineData("steps", "7", "steps")]           // 128 / 32 = 4 blocks
    [InlineData("gen_length", "-4", "gen_length")]
    [InlineData("block_length", "48", "gen_length")] // 128 % 48: the message names gen-length and block-length
    [InlineData("threshold", "1.5", "threshold")]
    [InlineData("max_tokens", "0", "max_tokens")]
    [InlineData("remdm", "-1", "remdm")]
    [InlineData("refresh_interval", "3", "refresh_interval")] // without a cache
    public void BuildRejectsOutOfRangeOrConflictingKnobsNamingOne(string name, string value, string field)
    {
        var k = new DecodingKnobs();
        if (name == "threshold") k.Set("commit", "threshold");
        k.Set(name, value);
        var e = Assert.Throws<DecodingOptionException>(() => k.Build(Eos));
        Assert.Equal(field, e.Knob);
        Assert.Contains(field, e.Message);
        Assert.Contains("--" + field.Replace('_', '-'), e.Spell(n => "--" + n.Replace('_', '-')));
    }

    [Fact]
    public void AsSetLeavesUnsetLengthsAtTheOptionsDefaultsAndChecksNothing()
    {
        var k = new DecodingKnobs();
        k.Set("block_length", "5"); k.Set("commit", "threshold"); k.Set("threshold", "0.7");
        DecodingOptions o = k.AsSet;
        Assert.Equal((128, 5, 128, (int?)null), (o.GenLength, o.BlockLength!.Value, o.Steps, o.MaxTokens)); // 128 % 5: not checked
        Assert.Equal((CommitRule.Threshold, 0.7), (o.Commit, o.Threshold));
        Assert.Null(new DecodingKnobs().AsSet.BlockLength); // unset: one block, not the chat default of 32
    }

    [Fact]
    public void CloneIsIndependentAndDescribeListsEveryKnob()
    {
        var a = new DecodingKnobs { Steps = 8 };
        DecodingKnobs b = a.Clone();
        b.Steps = 16;
        Assert.Equal(8, a.Steps);
        string text = a.Describe();
        foreach (string n in DecodingKnobs.Names) Assert.Contains(n + " = ", text);
        Assert.Contains("steps = 8", text);
        Assert.Contains("gen_length = auto", text);
        Assert.Contains("remasking = low_confidence", text);
        Assert.True(DecodingKnobs.IsKnob("Cfg-Scale"));
        Assert.False(DecodingKnobs.IsKnob("top_p"));
    }
}
