using Dllm.Experiments;
using Dllm.Training;
using Dllm.Sampling;

namespace Dllm.Tests.Experiments;

/// <summary>The reversal data: names are single tokens, both layouts are trained, a reversed question's
/// pair is never stated in the asked layout, and the control pairs are stated both ways.</summary>
public class ReversalTaskTests
{
    [Fact]
    public void Reversed_questions_are_never_stated_and_both_layouts_are_trained()
    {
        var (train, test) = ReversalTask.Generate(30, seed: 3);
        var statements = train.Select(e => e.Response).ToHashSet();
        Assert.All(train, e => Assert.Equal("", e.Prompt));
        Assert.Equal(10 * 2 + 10 + 10, train.Count);
        Assert.Contains(train, e => e.Response.Contains(" is the child of "));
        Assert.Contains(train, e => e.Response.Contains(" is the parent of "));
        foreach (TaskExample q in test.Where(t => t.Kind == "reversed"))
            Assert.DoesNotContain($"{q.Prompt} {q.Response}", statements);
        foreach (TaskExample q in test.Where(t => t.Kind is "forward" or "control"))
            Assert.Contains($"{q.Prompt} {q.Response}", statements);
        Assert.Equal(20, test.Count(t => t.Kind == "forward"));
        Assert.Equal(20, test.Count(t => t.Kind == "reversed"));
        Assert.Equal(20, test.Count(t => t.Kind == "control"));
        Assert.All(test.Where(t => t.IsInfill), t => Assert.Equal(1, Infill.Parse(t.Prompt).OfType<MaskRun>().Single().Count));
        // Every name is in exactly one pair, and each is one token of the vocabulary built from the statements.
        var tok = ReversalTask.Tokenizer(train);
        var names = train.Select(e => e.Response.Split(' ')).SelectMany(w => new[] { w[0], w[^1] }).Distinct().ToList();
        Assert.Equal(60, names.Count);
        Assert.All(names, n => Assert.Equal([tok.TokenToId(n)!.Value], tok.Encode(n)));
        Assert.All(test.Where(t => !t.IsInfill), q => Assert.Single(tok.Encode(q.Response)));
    }
}
