using Dllm.Experiments;
using Dllm.Training;

namespace Dllm.Tests.Experiments;

public class WordReversalTaskTests
{
    [Fact]
    public void Held_out_triples_are_unseen_combinations_of_trained_names_and_every_example_is_nine_tokens()
    {
        var (train, test) = WordReversalTask.Generate(12, 300, 40, seed: 5);
        Assert.Equal(300, train.Count);
        Assert.Equal(40, test.Count);
        Assert.Empty(test.Select(e => e.Prompt).Intersect(train.Select(e => e.Prompt)));
        var tok = WordReversalTask.Tokenizer(train);
        foreach (TaskExample e in train.Concat(test))
        {
            string[] words = e.Prompt.Split(' ');
            Assert.Equal("reverse", words[0]);
            Assert.Equal(string.Join(' ', words.Skip(1).Reverse()), e.Response);
            var (p, a) = e.Encode(tok);
            Assert.Equal(WordReversalTask.ExampleTokens, p.Length + a.Length);
            Assert.DoesNotContain(tok.TokenToId("[UNK]")!.Value, p.Concat(a)); // every held-out name is in the vocabulary
        }
        Assert.Equal(train, WordReversalTask.Generate(12, 300, 40, seed: 5).Train); // seeded
        Assert.NotEqual(train, WordReversalTask.Generate(12, 300, 40, seed: 6).Train);
    }

    [Fact]
    public void More_examples_than_triples_are_refused()
        => Assert.Throws<ArgumentException>(() => WordReversalTask.Generate(4, 20, 10, seed: 1)); // 4·3·2 = 24 triples
}
