using Dllm.Experiments;
using Dllm.Training;

namespace Dllm.Tests.Experiments;

/// <summary>The poem data: question formats are taught on half of the poems, the other half only as text.</summary>
public class PoemTaskTests
{
    [Fact]
    public void Test_poems_are_learned_as_text_only_and_questions_follow_the_poem()
    {
        var (train, test) = PoemTask.Generate(10, seed: 2);
        var poems = train.Where(e => e.Kind == "poem").Select(e => e.Response.Split('\n')).ToList();
        Assert.Equal(10, poems.Count);
        Assert.All(poems, p => Assert.Equal(4, p.Length));
        Assert.Equal(40, poems.SelectMany(p => p).Distinct().Count());
        Assert.Equal(5 * 6, train.Count(e => e.Kind == "format"));
        var trainedPrompts = train.Select(e => e.Prompt).ToHashSet();
        foreach (TaskExample q in test.Where(t => t.Kind is "next" or "prev"))
        {
            Assert.DoesNotContain(q.Prompt, trainedPrompts);
            string given = q.Prompt[6..^1];
            string[] poem = poems.Single(p => p.Contains(given));
            int k = Array.IndexOf(poem, given);
            Assert.Equal(q.Kind == "next" ? poem[k + 1] : poem[k - 1], q.Response);
        }
        Assert.Equal(5, test.Count(t => t.Kind == "prev-infill"));
        Assert.Contains("even number", Assert.Throws<ArgumentException>(() => PoemTask.Generate(3, 1)).Message);
    }
}
