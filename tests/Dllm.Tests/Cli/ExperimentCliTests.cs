namespace Dllm.Tests.Cli;

/// <summary><c>dllm experiment</c> as a user runs it: quick run → results.md + plot.png, gen, eval, errors.</summary>
public class ExperimentCliTests
{
    [Fact]
    public void Quick_sudoku_writes_results_and_a_png_and_its_models_evaluate_on_the_jsonl()
    {
        string dir = TestPaths.TempDir();
        var (code, output, err) = CliTests.Run("experiment", "sudoku", "--quick", "--out", dir, "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("| MDM | any order", output);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(Path.Combine(dir, "plot.png")).Take(4));
        Assert.Contains("dllm experiment sudoku --quick --seed 1", File.ReadAllText(Path.Combine(dir, "command.txt")));
        Assert.Contains("Command: `dllm experiment sudoku --quick", File.ReadAllText(Path.Combine(dir, "results.md")));

        string test = Path.Combine(dir, "data", "test.jsonl");
        (code, output, err) = CliTests.Run("experiment", "eval", "--model", Path.Combine(dir, "models", "ar"), "--data", test, "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Matches(@"AR greedy: \d+/8 = ", output);
        (code, output, err) = CliTests.Run("experiment", "eval", "--model", Path.Combine(dir, "models", "mdm"), "--data", test,
            "--commit", "threshold", "--threshold", "0.9", "--block-length", "5", "--cache", "dual", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("MDM steps/token 1, block 5, threshold 0.9, dual cache", output);
        (code, _, err) = CliTests.Run("generate", "--model", Path.Combine(dir, "models", "ar"), "--prompt-ids", "256,49", "--threads", "1");
        Assert.Equal(1, code);
        Assert.Contains("is an autoregressive checkpoint", err);
    }

    [Fact]
    public void Quick_speed_rot13_trains_on_the_given_text_and_measures_every_decoding_row()
    {
        string dir = TestPaths.TempDir(), text = Path.Combine(dir, "text.txt");
        File.WriteAllText(text, string.Join("\n", Enumerable.Range(0, 40).Select(i => $"Verse {i}: and the light was good, and it was so.")));
        var (code, output, err) = CliTests.Run("experiment", "speed-rot13", "--quick", "--data", text, "--out", Path.Combine(dir, "out"), "--threads", "1");
        Assert.True(code == 0, err);
        foreach (string row in new[] { "| plain, 1 step/token |", "| plain, 1/8 step/token |", "| threshold τ=0.9 |", "| + prefix cache |", "| + dual cache |" })
            Assert.Contains(row, output);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(dir, "out", "data", "test.jsonl")).Length);
        // A second run finds the finished checkpoint and reuses it instead of training again.
        (code, output, err) = CliTests.Run("experiment", "speed-rot13", "--quick", "--data", text, "--out", Path.Combine(dir, "out"), "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("resumed from the checkpoint", output);
    }

    [Fact]
    public void Gen_is_deterministic_in_its_seed()
    {
        string a = Path.Combine(TestPaths.TempDir(), "a.jsonl"), b = Path.Combine(TestPaths.TempDir(), "b.jsonl");
        Assert.Equal(0, CliTests.Run("experiment", "gen", "mult-cot", "--seed", "4", "--count", "5", "--out", a).Code);
        Assert.Equal(0, CliTests.Run("experiment", "gen", "mult-cot", "--seed", "4", "--count", "5", "--out", b).Code);
        Assert.Equal(5, File.ReadAllLines(a).Length);
        Assert.Equal(File.ReadAllText(a), File.ReadAllText(b));
    }

    [Theory]
    [InlineData("gen|nope|--out|x.jsonl", "error: unknown task 'nope'; known: sudoku4")]
    [InlineData("gen|sudoku4|--count|0|--out|x.jsonl", "error: count must be positive")]
    [InlineData("eval|--model|/nonexistent/m|--data|/nonexistent/d.jsonl", "error: data file '/nonexistent/d.jsonl' does not exist")]
    [InlineData("eval|--model|/nonexistent/m|--data|/nonexistent/d.jsonl|--cache|triple", "error: --cache must be one of none, prefix, dual; got 'triple'")]
    [InlineData("sudoku|--quick|--steps|0", "error: --steps must be positive")]
    [InlineData("reversal|--quick|--size|0", "error: --size must be positive")]
    [InlineData("speed-rot13|--quick|--data|/nonexistent/t.txt", "error: text file '/nonexistent/t.txt' does not exist")]
    public void Bad_input_gets_one_error_line(string args, string expected)
    {
        var (code, _, err) = CliTests.Run(["experiment", .. args.Split('|')]);
        Assert.Equal(1, code);
        Assert.StartsWith(expected, err.Trim());
    }
}
