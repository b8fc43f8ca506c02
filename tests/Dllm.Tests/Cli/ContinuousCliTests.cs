namespace Dllm.Tests.Cli;

/// <summary>`dllm train --objective diffusion-lm | diffuseq | ssd-lm`, then generate (with the live view), eval,
/// info, and the verbs that refuse them, as processes.</summary>
public class ContinuousCliTests
{
    private static readonly string[] Tiny =
    [
        "--d-model", "32", "--layers", "1", "--heads", "2", "--seq-len", "16", "--batch-size", "2", "--steps", "3",
        "--warmup", "1", "--save-every", "3", "--threads", "1", "--diffusion-steps", "40", "--tokenizer", "word",
    ];

    private static string Write(string name, string text)
    {
        string path = Path.Combine(TestPaths.TempDir(), name);
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData("diffusion-lm", "diffusion_lm")]
    [InlineData("ssd-lm", "ssd_lm")]
    public void Text_families_train_generate_live_and_eval(string objective, string kind)
    {
        string data = Write("words.txt", string.Join("\n", Enumerable.Range(0, 30).Select(i => $"alice gives bob {i % 7} apples , carol has {i % 5} .")));
        string dir = Path.Combine(TestPaths.TempDir(), "run");
        string[] extra = objective == "ssd-lm" ? ["--ssd-block", "4"] : [];
        var (code, _, err) = CliTests.Run(["train", "--data", data, "--out", dir, "--objective", objective, .. Tiny, .. extra]);
        Assert.True(code == 0, err);
        Assert.Contains($"\"model_kind\": \"{kind}\"", File.ReadAllText(Path.Combine(dir, "config.json")));

        var (genCode, _, genErr) = CliTests.Run("generate", "-m", dir, "--prompt", "alice gives", "--gen-length", "8", "--steps", "5", "-v", "--threads", "1");
        Assert.True(genCode == 0, genErr);
        Assert.Matches(@"step +5/5", genErr); // the live view: one line per reverse step
        Assert.Matches($@"{kind}: \d+ tokens, \d+ forward passes", genErr); // SSD-LM stops after a block with EOS

        var (evalCode, evalOut, evalErr) = CliTests.Run("eval", "-m", dir, "--data", data, "--seq-len", "12", "--chunks", "2", "--samples", "2", "--threads", "1");
        Assert.True(evalCode == 0, evalErr);
        Assert.Contains(objective == "ssd-lm" ? "denoising cross-entropy" : "L_e2e-simple", evalOut);
        Assert.Contains("not a likelihood bound", evalOut);

        var (infoCode, infoOut, _) = CliTests.Run("info", "-m", dir);
        Assert.Equal(0, infoCode);
        Assert.Contains("diffusion:   T 40", infoOut);
    }

    [Fact]
    public void Diffuseq_trains_on_pairs_and_the_other_verbs_refuse_continuous_models_in_one_line()
    {
        string pairs = Write("pairs.jsonl", string.Join("\n", Enumerable.Range(0, 10).Select(i => $"{{\"prompt\": \"reverse a{i % 3} b\", \"response\": \"b a{i % 3}\"}}")));
        string dir = Path.Combine(TestPaths.TempDir(), "dsq");
        string[] flags = [.. Tiny];
        flags[Array.IndexOf(flags, "--seq-len") + 1] = "24";
        var (code, _, err) = CliTests.Run(["train", "--data", pairs, "--out", dir, "--objective", "diffuseq", .. flags]);
        Assert.True(code == 0, err);
        Assert.Contains("prompt/response pairs", err);

        var (genCode, genOut, genErr) = CliTests.Run("generate", "-m", dir, "--prompt", "reverse a1 b", "--gen-length", "3", "--steps", "4", "--output", "ids", "--threads", "1");
        Assert.True(genCode == 0, genErr);
        Assert.Equal(3, genOut.Trim().Split(',').Length);
        var (evalCode, evalOut, evalErr) = CliTests.Run("eval", "-m", dir, "--data", pairs, "--chunks", "3", "--samples", "2", "--threads", "1");
        Assert.True(evalCode == 0, evalErr);
        Assert.Contains("diffuseq model: L_e2e-simple", evalOut);

        foreach (string[] args in new[]
        {
            new[] { "chat", "-m", dir }, ["accuracy", "-m", dir, "--data", pairs],
            ["generate", "-m", dir, "--prompt", "x", "--remasking", "random"], ["generate", "-m", dir, "--prompt", "x", "--block-length", "2"], ["generate", "-m", dir, "--infill", "a [MASK:2]"],
            ["sft", "-m", dir, "--data", pairs, "--out", Path.Combine(TestPaths.TempDir(), "s")],
        })
        {
            var (c, _, e) = CliTests.Run(args);
            Assert.True(c == 1, $"{string.Join(' ', args)}: exit {c}, {e}");
            Assert.Single(e.Trim().Split('\n'));
            Assert.StartsWith("error: ", e);
        }
        var (badCode, _, badErr) = CliTests.Run(["train", "--data", pairs, "--out", Path.Combine(TestPaths.TempDir(), "x"), "--objective", "ssd-lm", .. Tiny, "--ssd-block", "40"]);
        Assert.Equal(1, badCode);
        Assert.Contains("--ssd-block 40 is longer than --seq-len 16", badErr);
    }
}
