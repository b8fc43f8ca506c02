using Dllm.Model;
using Dllm.Experiments;
using Dllm.Tensors;
using Dllm.Text;
using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Training;

/// <summary>
/// Masked-diffusion SFT must condition the answer on the prompt. Two checks: at the unit level every
/// prompt token reaches every masked answer position (bidirectional attention, in inference and in the
/// training forward), and end to end a tiny MDM trained with <see cref="Trainer.RunSft"/> and decoded by
/// <see cref="TaskEvaluator"/> (the path of <c>dllm experiment</c>) learns to copy its prompt, a task it
/// cannot solve without reading the prompt (chance 1/676).
/// </summary>
public class SftConditioningTests
{
    private readonly ITestOutputHelper _out = TestContext.Current.TestOutputHelper!;

    [Fact]
    public void Every_prompt_token_reaches_every_masked_answer_position()
    {
        ModelConfig shape = ModelGradientTests.Tiny(kvHeads: 1);
        TrainableModel m = ModelGradientTests.RandomModel(shape, 21);
        const int mask = 10, len = 6;
        int[] canvas = [8, 3, 4, mask, mask, mask];
        int[] answer = [3, 4, 9];
        int[] positions = [3, 4, 5];
        var rows = new[] { 3, 4, 5 };
        float[] Logits(int[] tokens)
        {
            var l = new float[positions.Length * shape.VocabSize];
            m.Model.Logits(tokens, 1, len, positions, l);
            return l;
        }
        double Loss(int[] tokens) => m.Forward(new TrainingBatch(tokens, 1, len, rows, answer, [1f, 1f, 1f], AttentionPattern.Bidirectional));
        float[] baseLogits = Logits(canvas);
        double baseLoss = Loss(canvas);
        for (int p = 0; p < 3; p++)
        {
            int[] changed = (int[])canvas.Clone();
            changed[p] = (changed[p] + 1) % mask;
            float[] l = Logits(changed);
            for (int i = 0; i < positions.Length; i++)
            {
                double diff = 0;
                for (int v = 0; v < shape.VocabSize; v++) diff = Math.Max(diff, Math.Abs(l[i * shape.VocabSize + v] - baseLogits[i * shape.VocabSize + v]));
                Assert.True(diff > 1e-3, $"changing prompt token {p} moved the logits at masked position {positions[i]} by only {diff:E2}");
            }
            double loss = Loss(changed);
            Assert.True(Math.Abs(loss - baseLoss) > 1e-4, $"changing prompt token {p} left the training loss at {loss} (was {baseLoss})");
        }
    }

    /// <summary>
    /// Prompt = two random letters, answer = the same two letters. Measured (Release, d_model 64, 2 layers,
    /// 250 steps × 32, ≈ 4 s): MDM 60/60 exact on held-out prompts, final loss 0.009; with the prompt
    /// hidden from the training input (a mutation of SftObjective) 0/60, loss 1.99. An MDM that ignored the prompt
    /// would score ≈ 0 %.
    /// </summary>
    [Fact]
    public void Sft_masked_diffusion_model_learns_to_copy_its_prompt()
    {
        var rng = new Random(5);
        TaskExample Example() { string w = $"{(char)('a' + rng.Next(26))}{(char)('a' + rng.Next(26))}"; return new TaskExample(w, w, "copy"); }
        List<TaskExample> train = [.. Enumerable.Range(0, 2000).Select(_ => Example())];
        List<TaskExample> test = [.. Enumerable.Range(0, 60).Select(_ => Example())];
        var tok = new ByteTokenizer();
        var config = new TwinConfig { DModel = 64, Layers = 2, Heads = 4, Steps = 250, BatchSize = 32, Warmup = 30 };
        var options = new TrainerOptions
        {
            Config = config.Backbone(TaskExample.MaxTokens(train, tok)), Steps = config.Steps, BatchSize = config.BatchSize, SeqLen = 2,
            LearningRate = config.LearningRate, WarmupSteps = config.Warmup, Seed = 1, SaveEvery = config.Steps,
        };
        string dir = Path.Combine(Path.GetTempPath(), "dllm-sft-copy-" + Guid.NewGuid().ToString("N"));
        try
        {
            double last = double.NaN;
            TrainableModel model = Trainer.RunSft(options, [.. train.Select(e => e.Encode(tok))], tok, dir, resume: false, initFrom: null,
                p => last = p.Loss, TestContext.Current.CancellationToken);
            EvalReport report = TaskEvaluator.Evaluate(model.Model, autoregressive: false, tok, test, new EvalOptions(), TestContext.Current.CancellationToken);
            _out.WriteLine($"MDM copy: final loss {last:F4}, exact {report.Correct}/{report.Total}");
            Assert.True(report.Accuracy >= 0.9, $"the MDM copied only {report.Correct}/{report.Total} prompts (final loss {last:F3}): it does not read the prompt");
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }
}
