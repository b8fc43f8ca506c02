using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;
using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Training;

/// <summary>The training loop with the continuous objectives: checkpoints that record their family and load in
/// the engine, kill-and-resume, and refusals of a resume with other diffusion settings.</summary>
public class ContinuousTrainerTests
{
    private static readonly ByteTokenizer Tok = new();
    private static TextCorpus Corpus() => new(Tok.Encode(string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 20))).ToArray());

    private static TrainerOptions Options(string objective, int steps = 6, int diffusionSteps = 50) => new()
    {
        Objective = objective, Steps = steps, BatchSize = 2, SeqLen = 16, WarmupSteps = 1, LearningRate = 3e-3, SaveEvery = 3, Seed = 3,
        Config = TestConfigs.Bytes(32, 2, 2, 1, 64, 64) with
        {
            DiffusionSteps = diffusionSteps,
            SsdBlockSize = objective == "ssd-lm" ? 4 : 0, SimplexK = objective == "ssd-lm" ? 5 : 0,
            Kind = objective switch { "ssd-lm" => ModelKind.SsdLm, "diffuseq" => ModelKind.DiffuSeq, _ => ModelKind.DiffusionLm },
            WeightTying = objective != "ssd-lm", NoiseSchedule = objective == "ssd-lm" ? "cosine" : "sqrt",
        },
    };

    [Theory]
    [InlineData("diffusion-lm", ModelKind.DiffusionLm)]
    [InlineData("ssd-lm", ModelKind.SsdLm)]
    public void Resume_continues_the_same_run_and_the_checkpoint_records_its_family(string objective, ModelKind kind)
    {
        string a = TestPaths.TempDir(), b = TestPaths.TempDir();
        TrainableModel straight = Trainer.Run(Options(objective), Corpus(), Tok, a, resume: false, ct: TestContext.Current.CancellationToken);
        var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        Assert.ThrowsAny<OperationCanceledException>(() => Trainer.Run(Options(objective), Corpus(), Tok, b, false,
            p => { if (p.Step == 3) cts.Cancel(); }, cts.Token));
        TrainableModel resumed = Trainer.Run(Options(objective), Corpus(), Tok, b, resume: true, ct: TestContext.Current.CancellationToken);
        Assert.Equal(straight.Parameters.Values, resumed.Parameters.Values);

        ModelConfig saved = ModelConfig.Load(Path.Combine(a, "config.json"));
        Assert.Equal(kind, saved.Kind);
        Assert.Equal(50, saved.DiffusionSteps);
        using Transformer lm = Transformer.Load(a);
        int d = lm.Config.DModel;
        var inputs = new float[5 * d];
        for (int i = 0; i < inputs.Length; i++) inputs[i] = MathF.Sin(i);
        float[] fromEngine = new float[5 * d], fromTrainer = new float[5 * d];
        lm.HiddenFromInputs(inputs, 1, 5, [0, 1, 2, 3, 4], fromEngine);
        straight.Model.HiddenFromInputs(inputs, 1, 5, [0, 1, 2, 3, 4], fromTrainer);
        Assert.Equal(fromTrainer, fromEngine);

        var other = Options(objective, diffusionSteps: 80);
        Assert.Contains("diffusion_steps 50 in the checkpoint, 80 asked for",
            Assert.Throws<ArgumentException>(() => Trainer.Run(other, Corpus(), Tok, a, resume: true, ct: TestContext.Current.CancellationToken)).Message);
    }

    [Fact]
    public void Diffuseq_trains_on_pairs_and_its_checkpoint_samples()
    {
        var examples = new List<(int[], int[])> { ([1, 5, 6], [7, 8, ByteTokenizer.Eos]), ([1, 6, 5], [8, 7, 7, ByteTokenizer.Eos]) };
        string dir = TestPaths.TempDir();
        var losses = new List<double>();
        Trainer.RunContinuous(Options("diffuseq"), examples, Tok, dir, resume: false, p => losses.Add(p.Loss), TestContext.Current.CancellationToken);
        Assert.Equal(6, losses.Count);
        Assert.All(losses, l => Assert.True(double.IsFinite(l) && l > 0));
        using Transformer lm = Transformer.Load(dir);
        Assert.Equal(ModelKind.DiffuSeq, lm.Config.Kind);
        Assert.True(lm.Config.WeightTying);
        ContinuousResult r = new EmbeddingDiffusionSampler(lm).Generate([1, 5, 6], new ContinuousDecodingOptions { AnswerLength = 3, Steps = 5 });
        Assert.Equal(3, r.Answer.Length);
        Assert.Contains("diffuseq, not diffusion-lm",
            Assert.Throws<ArgumentException>(() => Trainer.RunContinuous(Options("diffusion-lm"), examples, Tok, TestPaths.TempDir(), false, ct: TestContext.Current.CancellationToken)).Message);
    }
}
