using Dllm.Sampling;
using Xunit;

namespace Dllm.Tests.Sampling;

/// <summary>
/// The refactored ReferenceSampler (and DiffusionSampler with reference options) against the frozen
/// pre-refactor implementation: committed tokens, per-step positions and confidences, forward count
/// and random draws must be identical.
/// </summary>
public class ReferenceEquivalenceTests
{
    public static TheoryData<int, int, int, double, double, OrderingRule, int, bool> Configs() => new()
    {
        // genLength, steps, blockLength, temperature, cfg, remasking, seed, promptHasMask
        { 12, 12, 12, 0, 0, OrderingRule.LowConfidence, 0, false },
        { 12, 6, 4, 0, 0, OrderingRule.LowConfidence, 0, false },
        { 12, 24, 6, 0, 0, OrderingRule.LowConfidence, 0, false },   // more steps than masks: zero-count steps
        { 12, 6, 4, 0.8, 0, OrderingRule.LowConfidence, 7, false },
        { 12, 6, 4, 0, 0, OrderingRule.Random, 3, false },
        { 12, 4, 12, 1.3, 0, OrderingRule.Random, 11, false },
        { 8, 4, 4, 0.5, 1.5, OrderingRule.LowConfidence, 5, false },
        { 8, 4, 4, 0, 0, OrderingRule.LowConfidence, 1, true },      // a mask inside the prompt is a candidate too
        { 8, 8, 2, 0.9, 2.0, OrderingRule.Random, 2, true },
    };

    [Theory]
    [MemberData(nameof(Configs))]
    public void ReferenceSamplerMatchesThePreRefactorImplementation(int genLength, int steps, int blockLength,
        double temperature, double cfg, OrderingRule remasking, int seed, bool promptHasMask)
    {
        const int vocab = 13, mask = 12;
        int[] prompt = promptHasMask ? [1, mask, 3, 4] : [1, 2, 3, 4];
        var options = new GenerationOptions
        {
            GenLength = genLength, Steps = steps, BlockLength = blockLength, Temperature = temperature,
            CfgScale = cfg, Ordering = remasking, Seed = seed,
        };

        var legacyModel = new FakeModel(vocab, Rows.Hashed);
        var legacySteps = new List<DenoisingStep>();
        GenerationResult expected = new LegacyReferenceSampler(legacyModel, mask).Generate(prompt, options, legacySteps.Add);

        var model = new FakeModel(vocab, Rows.Hashed);
        var actualSteps = new List<DenoisingStep>();
        GenerationResult actual = new ReferenceSampler(model, mask).Generate(prompt, options, actualSteps.Add);

        var general = new FakeModel(vocab, Rows.Hashed);
        var generalSteps = new List<DenoisingStep>();
        GenerationResult viaGeneral = new DiffusionSampler(general, mask).Generate(prompt, DecodingOptions.Reference(options), generalSteps.Add);

        foreach ((GenerationResult r, List<DenoisingStep> s, FakeModel m) in new[] { (actual, actualSteps, model), (viaGeneral, generalSteps, general) })
        {
            Assert.Equal(expected.Canvas, r.Canvas);
            Assert.Equal(expected.PromptLength, r.PromptLength);
            Assert.Equal(expected.ForwardPasses, r.ForwardPasses);
            Assert.Equal(legacySteps.Count, s.Count);
            for (int i = 0; i < s.Count; i++)
            {
                Assert.Equal(legacySteps[i].Step, s[i].Step);
                Assert.Equal(legacySteps[i].Block, s[i].Block);
                Assert.Equal(legacySteps[i].StepInBlock, s[i].StepInBlock);
                Assert.Equal(legacySteps[i].Canvas, s[i].Canvas);
                Assert.Equal(legacySteps[i].CommittedPositions, s[i].CommittedPositions);
                Assert.Equal(legacySteps[i].CommittedScores, s[i].CommittedScores);
            }
            // The model saw exactly the same calls (tokens, batch, positions, no key mask).
            Assert.Equal(legacyModel.Calls.Count, m.Calls.Count);
            for (int i = 0; i < m.Calls.Count; i++)
            {
                Assert.Equal(legacyModel.Calls[i].Kind, m.Calls[i].Kind);
                Assert.Equal(legacyModel.Calls[i].Batch, m.Calls[i].Batch);
                Assert.Equal(legacyModel.Calls[i].Tokens, m.Calls[i].Tokens);
                Assert.Equal(legacyModel.Calls[i].Positions, m.Calls[i].Positions);
                Assert.Empty(m.Calls[i].KeyMask);
            }
        }
        Assert.Equal(cfg > 0 ? 2 * actual.ForwardPasses : actual.ForwardPasses, actual.Nfe);
        Assert.Equal(steps, actual.Steps);
    }

    [Fact]
    public void ReferenceErrorsAreUnchanged()
    {
        var model = new FakeModel(13, Rows.Hashed, maxLength: 10);
        var sampler = new ReferenceSampler(model, 12);
        Assert.Contains("cfg", Assert.Throws<ArgumentException>(() => sampler.Generate([], new GenerationOptions { GenLength = 4, Steps = 4, BlockLength = 4, CfgScale = 1 })).Message.Replace("classifier-free", "cfg"));
        Assert.Contains("maximum sequence length", Assert.Throws<ArgumentException>(() => sampler.Generate([1, 2, 3], new GenerationOptions { GenLength = 8, Steps = 8, BlockLength = 8 })).Message);
        Assert.Contains("steps", Assert.Throws<ArgumentException>(() => sampler.Generate([1], new GenerationOptions { GenLength = 8, Steps = 3, BlockLength = 4 })).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReferenceSampler(model, 13));
    }
}
