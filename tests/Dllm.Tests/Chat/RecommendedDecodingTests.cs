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
}
