using Dllm.Model;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Tests.Training;

public class SftDatasetTests
{
    private static string Write(string text)
    {
        string path = Path.Combine(TestPaths.TempDir(), "data.jsonl");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void PromptResponseAndMessagesBecomeTemplatedPromptAndEotTerminatedAnswer()
    {
        var tok = new ByteTokenizer();
        var ex = SftDataset.Load(Write("{\"prompt\":\"hi\",\"response\":\" yo \"}\n\n{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a\"}]}\n"), tok, 512);
        Assert.Equal(2, ex.Count);
        Assert.Equal(ChatTemplate.Apply(tok, [new ChatMessage("user", "hi")]), ex[0].Prompt);
        Assert.Equal([(int)'y', (int)'o', ByteTokenizer.EndOfTurn], ex[0].Answer);
        Assert.Equal(ChatTemplate.Apply(tok, [new ChatMessage("system", "s"), new ChatMessage("user", "q")]), ex[1].Prompt);
    }

    [Theory]
    [InlineData("{\"prompt\":\"a\",\"response\":\"b\"}\n{bad json\n", ":2: invalid JSON")]
    [InlineData("{\"prompt\":\"a\"}\n", ":1: missing string field \"response\"")]
    [InlineData("[1,2]\n", ":1: expected a JSON object")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}\n", ":1: \"messages\" must end with an assistant")]
    [InlineData("{\"messages\":[1,{\"role\":\"assistant\",\"content\":\"a\"}]}\n", ":1: missing string field \"role\"")]
    [InlineData("\n\n", "has no examples")]
    public void BadLinesAreNamedByLineNumber(string text, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => SftDataset.Load(Write(text), new ByteTokenizer(), 512));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void TooLongExampleIsRejected()
        => Assert.Contains("longer than the model's 16",
            Assert.Throws<InvalidDataException>(() => SftDataset.Load(Write("{\"prompt\":\"a long prompt\",\"response\":\"b\"}"), new ByteTokenizer(), 16)).Message);

    [Fact]
    public void SftFromABaseCheckpointTrainsAndLoads()
    {
        var tok = new ByteTokenizer();
        ModelConfig shape = TestConfigs.Bytes(32, 4, 4, 1, 64, 128);
        string baseDir = TestPaths.TempDir(), sftDir = TestPaths.TempDir();
        var corpus = new TextCorpus(tok.Encode(string.Concat(Enumerable.Repeat("abc ", 50))).ToArray());
        Trainer.Run(new TrainerOptions { Config = shape, Steps = 3, BatchSize = 2, SeqLen = 16, WarmupSteps = 1 }, corpus, tok, baseDir, false);
        var examples = SftDataset.Load(Write("{\"prompt\":\"q\",\"response\":\"a\"}"), tok, 128);
        var losses = new List<double>();
        Trainer.RunSft(new TrainerOptions { Config = shape, Steps = 40, BatchSize = 4, SeqLen = 2, WarmupSteps = 2, LearningRate = 3e-3 },
            examples, tok, sftDir, false, baseDir, p => losses.Add(p.Loss));
        Assert.True(losses.TakeLast(5).Average() < losses.Take(5).Average());
        using Transformer lm = Transformer.Load(sftDir);
        Assert.Equal(ModelKind.MaskedDiffusion, lm.Config.Kind);
    }
}
