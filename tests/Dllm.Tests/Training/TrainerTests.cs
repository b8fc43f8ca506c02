using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Tests.Training;

/// <summary>The training loop end to end: checkpoints the engine loads, and kill-and-resume.</summary>
public class TrainerTests
{
    private static readonly ByteTokenizer Tok = new();
    private static TextCorpus Corpus() => new(Tok.Encode(string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 40))).ToArray());

    private static TrainerOptions Options(int steps, string objective = "mdm") => new()
    {
        Objective = objective, Steps = steps, BatchSize = 4, SeqLen = 32, WarmupSteps = 3, LearningRate = 3e-3, SaveEvery = 5, Seed = 3,
        Config = TestConfigs.Bytes(32, 4, 2, 2, 64, 64),
    };

    [Fact]
    public void ResumeGivesTheSameParametersAsAnUninterruptedRun()
    {
        string a = TestPaths.TempDir(), b = TestPaths.TempDir();
        TrainableModel straight = Trainer.Run(Options(10), Corpus(), Tok, a, resume: false);
        // "Killed" after the step-5 checkpoint: run 5 steps, then resume to 10.
        var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => Trainer.Run(Options(10), Corpus(), Tok, b, false,
            p => { if (p.Step == 5) cts.Cancel(); }, cts.Token));
        TrainableModel resumed = Trainer.Run(Options(10), Corpus(), Tok, b, resume: true);
        Assert.Equal(straight.Parameters.Values, resumed.Parameters.Values);
        Assert.Equal(File.ReadAllText(Path.Combine(a, "train_log.csv")).Split('\n').Select(l => l.Split(',')[0]),
            File.ReadAllText(Path.Combine(b, "train_log.csv")).Split('\n').Select(l => l.Split(',')[0]));
    }

    [Fact]
    public void CheckpointLoadsInTheEngineAndGenerates()
    {
        string dir = TestPaths.TempDir();
        TrainableModel trained = Trainer.Run(Options(5), Corpus(), Tok, dir, resume: false);
        Assert.False(Directory.Exists(dir + ".tmp"));
        Assert.False(Directory.Exists(dir + ".old"));
        using Transformer lm = Transformer.Load(dir);
        int[] tokens = Tok.Encode("the cat sat").ToArray();
        var fromEngine = new float[lm.VocabSize];
        var fromTrainer = new float[lm.VocabSize];
        lm.Logits(tokens, 1, tokens.Length, [2], fromEngine);
        trained.Model.Logits(tokens, 1, tokens.Length, [2], fromTrainer);
        for (int i = 0; i < fromEngine.Length; i++) Assert.Equal(fromTrainer[i], fromEngine[i], 1e-4f);
        GenerationResult r = new DiffusionSampler(lm, ByteTokenizer.Mask).Generate(tokens, new DecodingOptions { GenLength = 8, Steps = 8, BlockLength = 8 });
        Assert.DoesNotContain(ByteTokenizer.Mask, r.Canvas);
        Assert.IsType<ByteTokenizer>(TokenizerLoader.Load(dir));
    }

    [Fact]
    public void LossFallsOnARepetitiveCorpus()
    {
        var losses = new List<double>();
        Trainer.Run(Options(60, "ar"), Corpus(), Tok, TestPaths.TempDir(), false, p => losses.Add(p.Loss));
        Assert.True(losses.TakeLast(5).Average() < 0.5 * losses.Take(5).Average(),
            $"AR loss went from {losses.Take(5).Average():F3} to {losses.TakeLast(5).Average():F3}");
    }

    [Fact]
    public void BadOptionsNameTheFlag()
    {
        Assert.Contains("--seq-len", Assert.Throws<ArgumentException>(() => (Options(5) with { SeqLen = 1000 }).Validate()).Message);
        Assert.Contains("--objective", Assert.Throws<ArgumentException>(() => (Options(5) with { Objective = "gan" }).Validate()).Message);
        Assert.Contains("no trainer_state.json", Assert.Throws<InvalidDataException>(() => Trainer.Run(Options(5), Corpus(), Tok, TestPaths.TempDir(), resume: true)).Message);
    }
}

/// <summary>ELBO and AR likelihood on the same text, in the same unit.</summary>
public class LikelihoodComparisonTests
{
    [Fact]
    public void TrainingLowersBothTheElboBoundAndTheArNll()
    {
        var tok = new ByteTokenizer();
        var corpus = new TextCorpus(tok.Encode(string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 40))).ToArray());
        ModelConfig shape = TestConfigs.Bytes(32, 4, 4, 2, 64, 64);
        int[] answer = corpus.Tokens[..24];
        foreach (string objective in new[] { "mdm", "ar" })
        {
            var options = new TrainerOptions { Objective = objective, Config = shape, Steps = 60, BatchSize = 4, SeqLen = 32, WarmupSteps = 3, LearningRate = 3e-3, SaveEvery = 100 };
            TrainableModel fresh = TrainableModel.Create(Trainer.ModelConfigFor(shape, objective, tok), options.Seed);
            TrainableModel trained = Trainer.Run(options, corpus, tok, TestPaths.TempDir(), false);
            double Score(TrainableModel m) => objective == "ar"
                ? AutoregressiveObjective.NegativeLogLikelihood(m.Model, [ByteTokenizer.Bos], answer)
                : new ElboEstimator(ByteTokenizer.Mask, 32, 8).NegativeElbo(m.Model, [ByteTokenizer.Bos], answer, new Random(0));
            double before = Score(fresh) / answer.Length, after = Score(trained) / answer.Length;
            Assert.InRange(before, Math.Log(tok.VocabSize) - 0.5, Math.Log(tok.VocabSize) + 0.5); // ≈ uniform at init
            Assert.True(after < before - 1.0, $"{objective}: {before:F3} → {after:F3} nats/token");
        }
    }
}
