using Dllm.Sampling;
using Xunit;

namespace Dllm.Tests.Sampling;

/// <summary>
/// DiffusionSampler with the reference options (the default strategy knobs) against the frozen
/// pre-refactor implementation: committed tokens, per-step positions and scores, forward count
/// and random draws must be identical.
/// </summary>
public class ReferenceEquivalenceTests
{
    public static TheoryData<int, int, int, double, double, OrderingRule, int, bool> Configs() => new()
    {
        // genLength, steps, blockLength, temperature, cfg, ordering, seed, promptHasMask
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
    public void ReferenceOptionsMatchThePreRefactorImplementation(int genLength, int steps, int blockLength,
        double temperature, double cfg, OrderingRule ordering, int seed, bool promptHasMask)
    {
        const int vocab = 13, mask = 12;
        int[] prompt = promptHasMask ? [1, mask, 3, 4] : [1, 2, 3, 4];
        var options = new DecodingOptions
        {
            GenLength = genLength, Steps = steps, BlockLength = blockLength, Temperature = temperature,
            CfgScale = cfg, Ordering = ordering, Seed = seed,
        };

        var legacyModel = new FakeModel(vocab, Rows.Hashed);
        var legacySteps = new List<DenoisingStep>();
        GenerationResult expected = new LegacyReferenceSampler(legacyModel, mask).Generate(prompt, options, legacySteps.Add);

        var model = new FakeModel(vocab, Rows.Hashed);
        var actualSteps = new List<DenoisingStep>();
        GenerationResult actual = new DiffusionSampler(model, mask).Generate(prompt, options, actualSteps.Add);

        Assert.Equal(expected.Canvas, actual.Canvas);
        Assert.Equal(expected.PromptLength, actual.PromptLength);
        Assert.Equal(expected.ForwardPasses, actual.ForwardPasses);
        Assert.Equal(legacySteps.Count, actualSteps.Count);
        for (int i = 0; i < actualSteps.Count; i++)
        {
            Assert.Equal(legacySteps[i].Step, actualSteps[i].Step);
            Assert.Equal(legacySteps[i].Block, actualSteps[i].Block);
            Assert.Equal(legacySteps[i].StepInBlock, actualSteps[i].StepInBlock);
            Assert.Equal(legacySteps[i].Canvas, actualSteps[i].Canvas);
            Assert.Equal(legacySteps[i].CommittedPositions, actualSteps[i].CommittedPositions);
            Assert.Equal(legacySteps[i].CommittedScores, actualSteps[i].CommittedScores);
        }
        // The model saw exactly the same calls (tokens, batch, positions, no key mask).
        Assert.Equal(legacyModel.Calls.Count, model.Calls.Count);
        for (int i = 0; i < model.Calls.Count; i++)
        {
            Assert.Equal(legacyModel.Calls[i].Kind, model.Calls[i].Kind);
            Assert.Equal(legacyModel.Calls[i].Batch, model.Calls[i].Batch);
            Assert.Equal(legacyModel.Calls[i].Tokens, model.Calls[i].Tokens);
            Assert.Equal(legacyModel.Calls[i].Positions, model.Calls[i].Positions);
            Assert.Empty(model.Calls[i].KeyMask);
        }
        Assert.Equal(cfg > 0 ? 2 * actual.ForwardPasses : actual.ForwardPasses, actual.Nfe);
        Assert.Equal(steps, actual.Steps);
    }

    [Fact]
    public void ReferenceErrorsAreUnchanged()
    {
        var model = new FakeModel(13, Rows.Hashed, maxLength: 10);
        var sampler = new DiffusionSampler(model, 12);
        Assert.Contains("cfg", Assert.Throws<DecodingOptionException>(() => sampler.Generate([], new DecodingOptions { GenLength = 4, Steps = 4, BlockLength = 4, CfgScale = 1 })).Message.Replace("classifier-free", "cfg"));
        Assert.Contains("maximum sequence length", Assert.Throws<DecodingOptionException>(() => sampler.Generate([1, 2, 3], new DecodingOptions { GenLength = 8, Steps = 8, BlockLength = 8 })).Message);
        Assert.Contains("steps", Assert.Throws<DecodingOptionException>(() => sampler.Generate([1], new DecodingOptions { GenLength = 8, Steps = 3, BlockLength = 4 })).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiffusionSampler(model, 13));
    }
}
