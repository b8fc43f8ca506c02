using Dllm.Sampling;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Tests.Training;

/// <summary>The held-out instruction scorer over a scripted model that always answers "7".</summary>
public class ExactMatchEvaluatorTests
{
    private static readonly ByteTokenizer Tok = new();

    [Fact]
    public void AnswersAreScoredExactlyPerCaseAndBatchingChangesNothing()
    {
        string path = Path.Combine(TestPaths.TempDir(), "t.jsonl");
        File.WriteAllText(path, "{\"task\": \"add\", \"prompt\": \"What is 3 + 4?\", \"response\": \"7\"}\n"
            + "{\"task\": \"add\", \"prompt\": \"What is 3 + 5?\", \"response\": \"8\"}\n\n{\"prompt\": \"Say 7\", \"response\": \" 7 \"}\n");
        List<ExactMatchCase> cases = ExactMatchEvaluator.Load(path);
        Assert.Equal(["add", "add", "all"], cases.Select(c => c.Task));
        var options = new DecodingOptions { GenLength = 8, Steps = 8, BlockLength = 8 };
        foreach (int batch in new[] { 1, 3 })
        {
            // The answer starts after the assistant header; prompts differ in length, so find it per view.
            var model = new Dllm.Tests.Sampling.FakeModel(Tok.VocabSize, (view, pos, row) =>
            {
                int start = Array.LastIndexOf(view, ByteTokenizer.EndHeader) + 3;
                Dllm.Tests.Sampling.Rows.WithProbability(row, pos == start ? '7' : ByteTokenizer.Eos, 0.9);
            });
            List<ExactMatchOutcome> outcomes = ExactMatchEvaluator.Run(model, ByteTokenizer.Mask, Tok, cases, options, batch);
            Assert.Equal(["7", "7", "7"], outcomes.Select(o => o.Answer));
            Assert.Equal([true, false, true], outcomes.Select(o => o.Correct));
        }
    }

    [Fact]
    public void ACausalModelIsScoredLeftToRight()
    {
        string path = Path.Combine(TestPaths.TempDir(), "t.jsonl");
        File.WriteAllText(path, "{\"task\": \"add\", \"prompt\": \"What is 3 + 4?\", \"response\": \"7\"}\n"
            + "{\"task\": \"add\", \"prompt\": \"What is 10 + 5?\", \"response\": \"15\"}\n");
        // A scripted causal model: after the assistant header it writes "7", then EOS (asked for the last position only).
        var model = new Dllm.Tests.Sampling.FakeModel(Tok.VocabSize, (view, pos, row) =>
        {
            int start = Array.LastIndexOf(view, ByteTokenizer.EndHeader) + 3;
            Dllm.Tests.Sampling.Rows.WithProbability(row, pos == start - 1 ? '7' : ByteTokenizer.Eos, 0.9);
        });
        var options = new DecodingOptions { GenLength = 8, Steps = 8, BlockLength = 8 };
        List<ExactMatchOutcome> outcomes = ExactMatchEvaluator.Run(model, ByteTokenizer.Mask, Tok, ExactMatchEvaluator.Load(path), options, 2, autoregressive: true);
        Assert.Equal(["7", "7"], outcomes.Select(o => o.Answer));
        Assert.Equal([true, false], outcomes.Select(o => o.Correct));
    }

    [Theory]
    [InlineData("{\"prompt\": \"a\"}\n", "t.jsonl:1: missing string field \"response\"")]
    [InlineData("{\"prompt\": \"a\", \"response\": \"b\"}\nnot json\n", "t.jsonl:2: invalid JSON")]
    [InlineData("\n", "has no examples")]
    public void BadFilesNameTheLine(string text, string message)
    {
        string path = Path.Combine(TestPaths.TempDir(), "t.jsonl");
        File.WriteAllText(path, text);
        Assert.Contains(message, Assert.Throws<InvalidDataException>(() => ExactMatchEvaluator.Load(path)).Message);
    }
}
