using Dllm.Sampling;
using Xunit;

namespace Dllm.Tests.Sampling;

/// <summary>Infilling templates and canvases with masks anywhere.</summary>
public class InfillTests
{
    [Fact]
    public void ParseSplitsTextAndMaskRuns()
    {
        IReadOnlyList<InfillSegment> s = Infill.Parse("The [MASK:5] sat on the [MASK:3].");
        Assert.Equal<InfillSegment>([new TextSegment("The "), new MaskRun(5), new TextSegment(" sat on the "), new MaskRun(3), new TextSegment(".")], s);
        Assert.Equal<InfillSegment>([new MaskRun(1), new MaskRun(2)], Infill.Parse("[MASK][MASK:2]"));
        Assert.Equal<InfillSegment>([new TextSegment("a [MASK] [b] [MASKED"), new MaskRun(1)], Infill.Parse(@"a \[MASK] [b] [MASKED[MASK]"));
        Assert.Empty(Infill.Parse(""));
        Assert.Contains("offset 2", Assert.Throws<ArgumentException>(() => Infill.Parse("x [MASK:0]")).Message);
        Assert.Contains("positive integer", Assert.Throws<ArgumentException>(() => Infill.Parse("[MASK:two]")).Message);
        Assert.Contains("unclosed", Assert.Throws<ArgumentException>(() => Infill.Parse("[MASK:3")).Message);
    }

    [Fact]
    public void BuildEncodesTextAndExpandsRuns()
    {
        InfillCanvas c = Infill.Build(Infill.Parse("ab[MASK:2]c"), t => [.. t.Select(ch => ch - 'a')], maskId: 9, prefix: [7]);
        Assert.Equal([7, 0, 1, 9, 9, 2], c.Tokens);
        Assert.False(c.IsPinned(0));
        // From a template: BOS first when the tokenizer has one.
        Func<string, IReadOnlyList<int>> encode = t => [.. t.Select(ch => ch - 'a')];
        Assert.Equal([7, 0, 1, 9, 9, 2], Infill.Build("ab[MASK:2]c", encode, maskId: 9, bosId: 7).Tokens);
        Assert.Equal([0, 9], Infill.Build("a[MASK]", encode, maskId: 9, bosId: null).Tokens);
    }

    [Theory]
    [InlineData(null, CommitRule.Schedule)]
    [InlineData(3, CommitRule.Schedule)]
    [InlineData(null, CommitRule.Threshold)]
    public void FillWritesOnlyOwnedMasksAndNeverTouchesGivenOrPinnedPositions(int? blockLength, CommitRule rule)
    {
        const int mask = 7;
        int[] tokens = [1, mask, 2, mask, mask, 3, mask, mask, 4, mask];
        var pinned = new HashSet<int> { 4, 8 }; // a pinned mask stays a mask; a pinned token stays
        var model = new FakeModel(8, Rows.Hashed);
        var steps = new List<DenoisingStep>();
        var options = new DecodingOptions { Steps = 3, Seed = 2, Temperature = 0.5, Commit = rule, InfillBlockLength = blockLength };
        GenerationResult r = new DiffusionSampler(model, mask).Fill(new InfillCanvas(tokens, pinned), options, steps.Add);

        Assert.Equal(1, r.PromptLength);
        for (int i = 0; i < tokens.Length; i++)
        {
            if (tokens[i] != mask || pinned.Contains(i)) Assert.Equal(tokens[i], r.Canvas[i]);
            else Assert.NotEqual(mask, r.Canvas[i]);
        }
        Assert.All(steps.SelectMany(s => s.CommittedPositions), p => Assert.True(tokens[p] == mask && !pinned.Contains(p)));
        Assert.All(model.Calls, c => Assert.DoesNotContain(4, c.Positions));
        if (blockLength is int bl)
            foreach (DenoisingStep s in steps)
                Assert.All(s.CommittedPositions, p => Assert.InRange(p, 1 + s.Block * bl, Math.Min(9, s.Block * bl + bl)));
    }

    [Fact]
    public void FillChecksItsInputs()
    {
        var sampler = new DiffusionSampler(new FakeModel(8, Rows.Hashed, maxLength: 4), 7);
        var o = new DecodingOptions();
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => sampler.Fill(new InfillCanvas([9, 7]), o)).Message);
        Assert.Contains("pinned position 5", Assert.Throws<ArgumentException>(() => sampler.Fill(new InfillCanvas([1, 7], new HashSet<int> { 5 }), o)).Message);
        Assert.Contains("maximum sequence length", Assert.Throws<ArgumentException>(() => sampler.Fill(new InfillCanvas([1, 7, 7, 7, 7]), o)).Message);
        Assert.Contains("infill blocks", Assert.Throws<DecodingOptionException>(() => sampler.Fill(new InfillCanvas([1, 7, 7, 7]), o with { InfillBlockLength = 1, Steps = 4 })).Message);
        // Nothing to fill: no forward.
        GenerationResult none = sampler.Fill(new InfillCanvas([1, 2]), o);
        Assert.Equal([1, 2], none.Canvas);
        Assert.Equal(0, none.ForwardPasses);
    }
}
