using Dllm.Experiments;
using Dllm.Training;
using Dllm.Sampling;

namespace Dllm.Tests.Experiments;

/// <summary>The reversal data: test pairs are never stated reversed; the control pairs are.</summary>
public class ReversalTaskTests
{
    [Fact]
    public void Test_pairs_appear_forward_only_and_control_pairs_both_ways()
    {
        var (train, test) = ReversalTask.Generate(40, seed: 3);
        var statements = train.Select(e => e.Response).ToHashSet();
        Assert.All(train, e => Assert.Equal("", e.Prompt));
        Assert.Equal(40 + 20, train.Count);
        foreach (TaskExample q in test.Where(t => t.Kind == "reversed"))
        {
            string parent = q.Prompt[..5], child = q.Response.Trim().TrimEnd('.');
            Assert.DoesNotContain(ReversalTask.Reversed(parent, child), statements);
            Assert.Contains(ReversalTask.Forward(child, parent), statements);
        }
        foreach (TaskExample q in test.Where(t => t.Kind == "control-reversed"))
            Assert.Contains(q.Prompt + q.Response, statements);
        Assert.Equal(20, test.Count(t => t.Kind == "forward"));
        Assert.Equal(20, test.Count(t => t.Kind == "reversed-infill"));
        Assert.All(test.Where(t => t.IsInfill), t => Assert.Equal(5, Infill.Parse(t.Prompt).OfType<MaskRun>().Single().Count));
        // Every name is in exactly one pair.
        var names = train.Where(e => e.Response.Contains("'s parent is")).SelectMany(e => new[] { e.Response[..5], e.Response[^6..^1] }).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
    }
}
