namespace Dllm.Tests.Cli;

/// <summary>`dllm train`, `sft`, `eval` as processes: JSONL data, plain progress lines, loss.png, clear errors.</summary>
public class TrainCliTests
{
    private static readonly string[] Tiny =
    [
        "--d-model", "32", "--layers", "1", "--heads", "2", "--seq-len", "16", "--batch-size", "2", "--steps", "12",
        "--warmup", "2", "--save-every", "6", "--threads", "1",
    ];

    private static string Write(string name, string text)
    {
        string path = Path.Combine(TestPaths.TempDir(), name);
        File.WriteAllText(path, text);
        return path;
    }

    private static bool IsPng(string path) => File.Exists(path) && File.ReadAllBytes(path).AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A });

    [Fact]
    public void TrainOnJsonlThenSftAndEvalWritePlainProgressAndALossPlot()
    {
        string data = Write("docs.jsonl", string.Join("\n", Enumerable.Range(0, 20).Select(i => $"{{\"text\": \"the cat sat on mat number {i}.\", \"id\": {i}}}")) + "\n\n");
        string dir = Path.Combine(TestPaths.TempDir(), "run");
        var (code, _, err) = CliTests.Run(["train", "--data", data, "--out", dir, .. Tiny]);
        Assert.True(code == 0, err);
        // Not a terminal: plain lines every 10 steps and at the end, with tokens/s and an ETA, no escape codes.
        Assert.Matches(@"step 10/12  loss [\d.]+ .* tok/s  ETA \d\d:\d\d:\d\d", err);
        Assert.Contains("step 12/12", err);
        Assert.DoesNotContain("\u001b[", err);
        Assert.True(IsPng(Path.Combine(dir, "loss.png")), "train wrote no loss.png");
        Assert.Equal(13, File.ReadAllLines(Path.Combine(dir, "train_log.csv")).Length);

        var (evalCode, evalOut, evalErr) = CliTests.Run("eval", "--model", dir, "--data", data, "--seq-len", "15", "--chunks", "2", "--samples", "8", "--threads", "1");
        Assert.True(evalCode == 0, evalErr);
        Assert.Contains("ELBO bound", evalOut);

        string pairs = Write("pairs.jsonl", "{\"prompt\": \"hi\", \"response\": \"yo\"}\n{\"prompt\": \"a\", \"response\": \"b\"}\n");
        string sftDir = Path.Combine(TestPaths.TempDir(), "sft");
        var (tooShort, _, shortErr) = CliTests.Run("sft", "--model", dir, "--data", pairs, "--out", sftDir, "--steps", "3", "--threads", "1");
        Assert.Equal(1, tooShort); // the default warmup (20) does not fit in 3 steps
        Assert.Contains("--warmup 20 is too long for --steps 3", shortErr);
        var (sftCode, _, sftErr) = CliTests.Run("sft", "--model", dir, "--data", pairs, "--out", sftDir, "--steps", "3", "--warmup", "1", "--batch-size", "2", "--threads", "1");
        Assert.True(sftCode == 0, sftErr);
        Assert.True(IsPng(Path.Combine(sftDir, "loss.png")), "sft wrote no loss.png");
    }

    [Fact]
    public void TrainOnPromptResponsePairsUsesTheSftObjectiveOfEachKindAndAccuracyScoresThem()
    {
        string pairs = Write("pairs.jsonl", string.Join("\n", Enumerable.Range(0, 12).Select(i => $"{{\"prompt\": \"What is {i} + 1?\", \"response\": \"{i + 1}\"}}")) + "\n");
        string test = Write("test.jsonl", "{\"task\": \"add\", \"prompt\": \"What is 3 + 1?\", \"response\": \"4\"}\n");
        string[] flags = [.. Tiny];
        flags[Array.IndexOf(flags, "--seq-len") + 1] = "64"; // the chat template's tokens count
        string arDir = "";
        foreach (var (objective, recorded) in new[] { ("mdm", "sft"), ("ar", "ar-sft"), ("bd3", "bd3-sft") })
        {
            string dir = Path.Combine(TestPaths.TempDir(), objective);
            if (objective == "ar") arDir = dir;
            string[] extra = objective == "bd3" ? ["--block-size", "4"] : [];
            var (code, _, err) = CliTests.Run(["train", "--data", pairs, "--out", dir, "--objective", objective, .. flags, .. extra]);
            Assert.True(code == 0, err);
            Assert.Contains("with the SFT objective", err);
            Assert.Contains($"\"Objective\":\"{recorded}\"", File.ReadAllText(Path.Combine(dir, "trainer_state.json")));
            var (accCode, accOut, accErr) = CliTests.Run("accuracy", "--model", dir, "--data", test, "--gen-length", "8", "--threads", "1");
            Assert.True(accCode == 0, accErr);
            Assert.Matches(@"all +[01]/1 ", accOut);
        }
        // The AR model adapted on the same pairs: SFT objective, logits kept shifted.
        string adapted = Path.Combine(TestPaths.TempDir(), "adapted");
        var (adCode, _, adErr) = CliTests.Run("adapt", "--from", arDir, "--to", "mdm", "--data", pairs, "--out", adapted,
            "--seq-len", "64", "--steps", "3", "--warmup", "1", "--batch-size", "2", "--threads", "1");
        Assert.True(adCode == 0, adErr);
        Assert.Contains("\"Objective\":\"sft\"", File.ReadAllText(Path.Combine(adapted, "trainer_state.json")));
        Assert.Contains("\"shift_logits\": true", File.ReadAllText(Path.Combine(adapted, "config.json")));
        var (adAcc, adOut, adAccErr) = CliTests.Run("accuracy", "--model", adapted, "--data", test, "--gen-length", "8", "--threads", "1");
        Assert.True(adAcc == 0, adAccErr);
        Assert.Matches(@"all +[01]/1 ", adOut);
        var (annealed, _, annealErr) = CliTests.Run("adapt", "--from", arDir, "--to", "mdm", "--data", pairs,
            "--out", Path.Combine(TestPaths.TempDir(), "annealed"), "--seq-len", "64", "--steps", "3", "--warmup", "1", "--anneal-steps", "2", "--threads", "1");
        Assert.Equal(1, annealed);
        Assert.Contains("--anneal-steps and --complementary adapt on text", annealErr);

        var (tooLong, _, longErr) = CliTests.Run(["train", "--data", pairs, "--out", Path.Combine(TestPaths.TempDir(), "short"), .. Tiny]);
        Assert.Equal(1, tooLong);
        Assert.Contains("longer than --seq-len 16", longErr);
    }

    [Fact]
    public void TrainWithWordTokenizerWritesAHfWordLevelTokenizerThatEvalAndGenerateUse()
    {
        string data = Write("words.jsonl", string.Join("\n", Enumerable.Range(0, 30).Select(i => $"{{\"text\": \"alice gives bob {i % 7} apples , carol has {i % 5} .\"}}")) + "\n");
        string dir = Path.Combine(TestPaths.TempDir(), "word");
        string[] threeSteps = [.. Tiny];
        threeSteps[Array.IndexOf(threeSteps, "--steps") + 1] = "3";
        threeSteps[Array.IndexOf(threeSteps, "--warmup") + 1] = "1";
        threeSteps[Array.IndexOf(threeSteps, "--save-every") + 1] = "3";
        var (code, _, err) = CliTests.Run(["train", "--data", data, "--out", dir, .. threeSteps, "--tokenizer", "word"]);
        Assert.True(code == 0, err);
        // [UNK] + 6 specials + alice gives bob apples , carol has . + digits 0..6 = 22
        Assert.Contains("word-level vocabulary: 22 tokens", err);
        var tok = Assert.IsType<Dllm.Text.WordLevelTokenizer>(Dllm.Text.TokenizerLoader.Load(dir));
        Assert.Equal(22, tok.VocabSize);
        Assert.Contains("\"type\": \"WordLevel\"", File.ReadAllText(Path.Combine(dir, "tokenizer.json")));
        Assert.Contains("\"vocab_size\": 22", File.ReadAllText(Path.Combine(dir, "config.json")));
        Assert.Contains($"\"mask_token_id\": {tok.MaskId}", File.ReadAllText(Path.Combine(dir, "config.json")));

        var (evalCode, evalOut, evalErr) = CliTests.Run("eval", "--model", dir, "--data", data, "--seq-len", "15", "--chunks", "2", "--samples", "4", "--threads", "1");
        Assert.True(evalCode == 0, evalErr);
        Assert.Contains("ELBO bound", evalOut);
        var (genCode, genOut, genErr) = CliTests.Run("generate", "--model", dir, "--raw", "--prompt", "alice gives bob", "--gen-length", "4", "--steps", "2", "--threads", "1");
        Assert.True(genCode == 0, genErr);
        Assert.DoesNotContain("\uFFFD", genOut);

        var (badCode, _, badErr) = CliTests.Run(["train", "--data", data, "--out", Path.Combine(TestPaths.TempDir(), "x"), .. threeSteps, "--tokenizer", "bpe"]);
        Assert.NotEqual(0, badCode);
        Assert.Contains("bpe", badErr);
    }

    [Fact]
    public void TrainWithExpertsWritesALladaMoeCheckpointThatInfoDescribes()
    {
        string data = Write("docs.txt", string.Concat(Enumerable.Range(0, 40).Select(i => $"the cat sat on mat number {i}. ")));
        string dir = Path.Combine(TestPaths.TempDir(), "moe");
        string[] twoLayers = [.. Tiny];
        twoLayers[Array.IndexOf(twoLayers, "--layers") + 1] = "2";
        var (code, _, err) = CliTests.Run(["train", "--data", data, "--out", dir, .. twoLayers, "--experts", "4", "--top-k", "2",
            "--shared-expert-hidden", "16", "--dense-layers", "1"]);
        Assert.True(code == 0, err);
        Assert.Contains("4 experts top-2 in 1 layers", err);
        string config = File.ReadAllText(Path.Combine(dir, "config.json"));
        Assert.Contains("\"LLaDAMoEModelLM\"", config);
        Assert.Contains("\"expert_intermediate_size\": 64", config); // the default dense width (8/3 · 32 rounded up to 64: 128) / top-k
        var (infoCode, info, infoErr) = CliTests.Run("info", "--model", dir);
        Assert.True(infoCode == 0, infoErr);
        Assert.Contains("experts:     4 × 64 wide, top-2 + shared expert 16, in 1 of 2 layers", info);
        Assert.Matches(@"active:      [\d,]+ per token \([\d.]+ %: top-2 of 4 experts\)", info);
    }

    [Theory]
    [InlineData("--experts", "4", "--top-k", "5", "--top-k must lie in 1..--experts (4), got 5")]
    [InlineData("--experts", "4", "--dense-layers", "1", "--dense-layers must lie in 0..--layers − 1 (0), got 1")]
    [InlineData("--shared-expert-hidden", "8", "--top-k", "2", "need --experts")]
    [InlineData("--experts", "-1", "--top-k", "2", "--experts must be ≥ 0, got -1")]
    public void BadExpertFlagsAreNamed(string flag1, string value1, string flag2, string value2, string message)
    {
        var (code, _, err) = CliTests.Run(["train", "--data", Write("t.txt", new string('x', 200)), "--out", TestPaths.TempDir(), .. Tiny, flag1, value1, flag2, value2]);
        Assert.Equal(1, code);
        Assert.Contains(message, err);
    }

    [Theory]
    [InlineData("bad.jsonl", "{\"text\": \"fine\"}\n{\"text\": 5}\n", "bad.jsonl:2: expected an object with a string field \"text\"")]
    [InlineData("broken.jsonl", "{\"text\": \"fine\"}\n\n{\"text\": \"unclosed\n", "broken.jsonl:3: invalid JSON")]
    [InlineData("blank.jsonl", "\n  \n", "has no documents")]
    [InlineData("empty.txt", "", "is empty")]
    [InlineData("short.txt", "tiny", "fewer than one training sequence of 16")]
    public void BadTrainingDataIsNamedWithItsLine(string name, string text, string message)
    {
        var (code, _, err) = CliTests.Run(["train", "--data", Write(name, text), "--out", TestPaths.TempDir(), .. Tiny]);
        Assert.Equal(1, code);
        Assert.StartsWith("error:", err.Trim());
        Assert.Contains(message, err);
    }

    [Fact]
    public void EvalRejectsASequenceLongerThanTheModel()
    {
        var (code, _, err) = CliTests.Run("eval", "--model", TestPaths.Golden("tiny-f32"), "--data", Write("t.txt", "some text"), "--seq-len", "100000");
        Assert.Equal(1, code);
        Assert.Contains("longer than the model's maximum sequence length", err);
    }

    [Fact]
    public void TrainNeverTouchesTheUsersFilesAndResumeRefusesAnotherModel()
    {
        string data = Write("t.txt", string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 40)));
        // --out pointing at a folder of the user's: refused, nothing written or removed.
        string mine = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(mine, "thesis.tex"), "chapter 1");
        Directory.CreateDirectory(Path.Combine(mine, "figures"));
        var (code, _, err) = CliTests.Run(["train", "--data", data, "--out", mine, .. Tiny]);
        Assert.Equal(1, code);
        Assert.Contains("error: refusing to train into", err);
        Assert.DoesNotContain("   at ", err); // one line, no stack trace
        Assert.Equal(["figures", "thesis.tex"], Directory.EnumerateFileSystemEntries(mine).Select(Path.GetFileName).Order());
        Assert.Equal("chapter 1", File.ReadAllText(Path.Combine(mine, "thesis.tex")));

        // --resume with other size flags: refused before anything is written.
        string run = Path.Combine(TestPaths.TempDir(), "run");
        Assert.Equal(0, CliTests.Run(["train", "--data", data, "--out", run, .. Tiny]).Code);
        byte[] weights = File.ReadAllBytes(Path.Combine(run, "model.safetensors"));
        string[] bigger = [.. Tiny.Select(a => a switch { "32" => "64", "12" => "20", _ => a }), "--resume"];
        (code, _, err) = CliTests.Run(["train", "--data", data, "--out", run, .. bigger]);
        Assert.Equal(1, code);
        Assert.Contains("d_model 32 in the checkpoint, 64 asked for", err);
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(run, "model.safetensors")));
    }
}
