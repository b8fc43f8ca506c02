using Dllm.Chat;
using Dllm.Model;
using Dllm.Sampling;

namespace Dllm.Tests.Chat;

/// <summary>Each family starts from its authors' decoding; flags still override it.</summary>
public class RecommendedDecodingTests
{
    [Fact]
    public void Dream_decodes_as_its_readme_says_and_llada_as_generate_py()
    {
        ModelConfig dream = ModelConfig.Load(TestPaths.Golden("qwen", "dream-f32", "config.json"));
        DecodingOptions d = RecommendedDecoding.For(dream).Build(dream.EosTokenId);
        Assert.Equal(OrderingRule.Entropy, d.Ordering);
        Assert.Equal(CommitRule.Dream, d.Commit);
        Assert.Equal(0.2, d.Temperature);
        Assert.Equal(d.GenLength, d.BlockLength); // one block

        ModelConfig llada = ModelConfig.Load(TestPaths.Golden("tiny-f32", "config.json"));
        DecodingOptions l = RecommendedDecoding.For(llada).Build(llada.EosTokenId);
        Assert.Equal(OrderingRule.LowConfidence, l.Ordering);
        Assert.Equal(CommitRule.Schedule, l.Commit);
        Assert.Equal(32, l.BlockLength);

        DecodingKnobs overridden = RecommendedDecoding.For(dream);
        overridden.Set("remasking", "low_confidence");
        Assert.Equal(OrderingRule.LowConfidence, overridden.Build(dream.EosTokenId).Ordering);
    }

    [Fact]
    public void Llada2_decodes_as_its_generate_does()
    {
        // modeling_llada2_moe.py generate(): blocks of 32 (block_length), threshold 0.95 with the step's share as the floor.
        ModelConfig llada2 = ModelConfig.Load(TestPaths.Golden("blockdiff", "llada2-mini", "config.json"), validate: false);
        DecodingOptions o = RecommendedDecoding.For(llada2).Build(llada2.EosTokenId);
        Assert.Equal((CommitRule.Dynamic, 0.95, 32), (o.Commit, o.Threshold, o.BlockLength));
        Assert.Equal((CacheMode.Prefix, true, 20), (o.Cache, o.EarlyStop, o.EosId));
    }
}
