using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tensors;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Tests.Training;

/// <summary>
/// BD3-LM training: the two-halves canvas [x_t ; x_0] trains exactly what the block-causal model computes when it
/// decodes (the loss of one pair forward equals the sum of the per-block losses of the inference forward on
/// [clean prefix ; noised block]), its gradients match finite differences, and a tiny run overfits, saves a
/// block diffusion checkpoint and gets a likelihood bound and a generation.
/// </summary>
public class BlockDiffusionTrainingTests
{
    private static (TrainableModel Model, TrainingBatch Batch, int[] Clean, bool[] Masked, double[] T) Setup(int seed, bool shifted = false)
    {
        TrainableModel m = ModelGradientTests.RandomModel(ModelGradientTests.Tiny(1).As(ModelKind.BlockDiffusion, 2) with { AdaptedShift = shifted }, seed);
        var rng = new Random(seed + 1);
        int batch = 2, length = 6;
        int[] clean = Enumerable.Range(0, batch * length).Select(_ => rng.Next(9)).ToArray();
        bool[] masked = clean.Select((_, i) => i % 3 != 1 || rng.NextDouble() < 0.5).ToArray();
        double[] t = Enumerable.Range(0, batch * length / 2).Select(_ => 0.2 + 0.7 * rng.NextDouble()).ToArray();
        return (m, BlockDiffusionObjective.Build(clean, batch, length, 2, masked, t, maskTokenId: 10), clean, masked, t);
    }

    /// <summary>Also for an AR-adapted model whose logits are shifted: a block's first position reads the clean row
    /// before it in both views (<see cref="AttentionPattern.ShiftSource"/>).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void One_pair_forward_equals_the_decoding_view_of_every_block(bool shifted)
    {
        var (m, batch, clean, masked, t) = Setup(21, shifted);
        double loss = m.Forward(batch);
        int length = 6, B = 2, v = m.Config.VocabSize;
        double expected = 0;
        for (int s = 0; s < 2; s++)
            for (int i = 0; i < length; i++)
            {
                if (!masked[s * length + i]) continue;
                int end = (i / B + 1) * B;
                int[] canvas = clean.AsSpan(s * length, end).ToArray();
                for (int j = i / B * B; j < end; j++) if (masked[s * length + j]) canvas[j] = 10;
                var logits = new float[v];
                m.Model.Logits(canvas, 1, end, [i], logits);
                double ce = Softmax.LogSumExp(logits) - logits[clean[s * length + i]];
                expected += ce / (t[s * (length / B) + i / B] * 2 * length);
            }
        Assert.Equal(expected, loss, 1e-5);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Gradients_through_the_pair_view_match_finite_differences(bool shifted)
    {
        var (m, batch, _, _, _) = Setup(31, shifted);
        m.ZeroGrad();
        m.Forward(batch);
        m.Backward();
        float[] grads = (float[])m.Parameters.Grads.Clone();
        double[] numeric = GradCheck.Numeric(() => m.Forward(batch), m.Parameters.Values, 3e-3);
        double all = GradCheck.RelativeError(grads, numeric);
        Assert.True(all < 1e-3, $"whole-model relative error {all:E3}");
    }

    [Fact]
    public void A_tiny_run_overfits_and_its_checkpoint_decodes_block_by_block()
    {
        var tok = new ByteTokenizer();
        var corpus = new TextCorpus(tok.Encode(string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 40))).ToArray());
        var o = new TrainerOptions
        {
            Objective = "bd3", BlockSize = 4, Steps = 60, BatchSize = 4, SeqLen = 16, WarmupSteps = 5, LearningRate = 1e-2, SaveEvery = 60, Seed = 3,
            Config = TestConfigs.Bytes(32, 2, 2, 1, 64, 64),
        };
        string dir = TestPaths.TempDir();
        var losses = new List<double>();
        Trainer.Run(o, corpus, tok, dir, resume: false, p => losses.Add(p.Loss));
        Assert.True(losses.TakeLast(10).Average() < 0.5 * losses.Take(5).Average(), $"loss {losses.Take(5).Average():F3} → {losses.TakeLast(10).Average():F3}");

        using Transformer lm = Transformer.Load(dir);
        Assert.Equal(ModelKind.BlockDiffusion, lm.Config.Kind);
        Assert.Equal(4, lm.DiffusionBlockSize);
        LikelihoodScore bound = HeldOutLikelihood.Score(lm, corpus, tok.EosId, 15, 2, 8, new Random(1));
        Assert.True(bound.IsBound && bound.NatsPerToken > 0 && bound.NatsPerToken < Math.Log(tok.VocabSize), $"bound {bound.NatsPerToken}");
        var options = new DecodingOptions { GenLength = 8, Steps = 8, Cache = CacheMode.Prefix };
        GenerationResult r = new DiffusionSampler(lm, tok.MaskId).Generate(tok.Encode("the cat sat").ToArray(), options);
        Assert.DoesNotContain(tok.MaskId, r.Answer.ToArray());
        Assert.Equal(r.Canvas, new DiffusionSampler(lm, tok.MaskId).Generate(tok.Encode("the cat sat").ToArray(), options with { Cache = CacheMode.None }).Canvas);
    }

    [Fact]
    public void Bad_bd3_flags_name_themselves()
    {
        var o = new TrainerOptions { Objective = "bd3", BlockSize = 5, SeqLen = 16, Config = TestConfigs.Bytes(16, 2, 2, 1, 32, 32) };
        Assert.Contains("--block-size 5", Assert.Throws<ArgumentException>(o.Validate).Message);
        Assert.Contains("--block-size", Assert.Throws<ArgumentException>((o with { BlockSize = 0 }).Validate).Message);
        Assert.Contains("--noise-min", Assert.Throws<ArgumentException>((o with { BlockSize = 4, NoiseMin = 0.9, NoiseMax = 0.5 }).Validate).Message);
        Assert.Contains("--block-size applies to --objective bd3", Assert.Throws<ArgumentException>((o with { Objective = "mdm", BlockSize = 4 }).Validate).Message);
    }

    [Fact]
    public void Adapting_an_AR_checkpoint_keeps_its_weights_shifts_its_logits_and_anneals_its_mask()
    {
        var tok = new ByteTokenizer();
        var corpus = new TextCorpus(tok.Encode(string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 40))).ToArray());
        var ar = new TrainerOptions
        {
            Objective = "ar", Steps = 20, BatchSize = 2, SeqLen = 16, WarmupSteps = 2, LearningRate = 1e-2, SaveEvery = 20, Seed = 3,
            Config = TestConfigs.Bytes(16, 2, 2, 1, 32, 32),
        };
        string arDir = TestPaths.TempDir(), mdmDir = TestPaths.TempDir(), bd3Dir = TestPaths.TempDir();
        Trainer.Run(ar, corpus, tok, arDir, resume: false);
        // Zero steps are not allowed; one step at a tiny rate barely moves the weights: the AR model's next-token
        // predictions survive as the adapted model's logits at the position after (the shift).
        TrainableModel mdm = Trainer.Adapt(ar with { Objective = "mdm", Steps = 1, WarmupSteps = 0, LearningRate = 1e-9, AnnealSteps = 1, Complementary = true },
            corpus, tok, arDir, mdmDir, resume: false);
        Assert.True(mdm.Config.ShiftLogits);
        Assert.Equal(ModelKind.MaskedDiffusion, mdm.Config.Kind);
        using Transformer arModel = Transformer.Load(arDir), adapted = Transformer.Load(mdmDir);
        Assert.True(adapted.Config.AdaptedShift);
        int[] text = tok.Encode("the cat sat").ToArray();
        var a = new float[tok.VocabSize];
        var b = new float[tok.VocabSize];
        arModel.Logits(text, 1, text.Length, [text.Length - 1], a);          // AR: the row of the last token predicts the next
        int[] canvas = [.. text, tok.MaskId];
        adapted.Logits(canvas, 1, canvas.Length, [text.Length], b);          // adapted: the next position reads that row...
        Assert.Equal(Array.IndexOf(a, a.Max()), Array.IndexOf(b, b.Max())); // ...under causal-to-bidirectional change only
        var losses = new List<double>();
        TrainableModel bd3 = Trainer.Adapt(ar with { Objective = "bd3", BlockSize = 4, Steps = 40, Complementary = true, SaveEvery = 40 },
            corpus, tok, arDir, bd3Dir, resume: false, p => losses.Add(p.Loss));
        Assert.Equal(ModelKind.BlockDiffusion, bd3.Config.Kind);
        Assert.True(losses.TakeLast(5).Average() < 0.7 * losses.Take(3).Average(), $"adapted loss {losses.Take(3).Average():F3} → {losses.TakeLast(5).Average():F3}");
        Assert.Contains("--from", Assert.Throws<InvalidDataException>(() => Trainer.Adapt(ar with { Objective = "mdm" }, corpus, tok, mdmDir, TestPaths.TempDir(), false)).Message);
    }

    [Fact]
    public void Annealing_starts_causal_and_ends_bidirectional_and_complements_cover_every_token()
    {
        Assert.Equal(AttentionPattern.Causal.KeyLimit(3, 8), AttentionPattern.Annealed(0).KeyLimit(3, 8));
        Assert.Equal(8, AttentionPattern.Annealed(8).KeyLimit(0, 8));
        Assert.True(AttentionPattern.Annealed(3).Trains(AttentionPattern.Bidirectional));
        var obj = new MaskedDiffusionObjective(10, cutProbability: 0, complementary: true);
        TrainingBatch batch = obj.Sample(Enumerable.Range(0, 2 * 6).Select(i => i % 9).ToArray(), 2, 6, new Random(4));
        Assert.Equal(4, batch.Batch);
        // Each token of each sequence is a target exactly once across the sequence and its complement.
        var targeted = batch.Rows.Select(r => (r / 6 % 2, r % 6)).ToList();
        Assert.Equal(12, targeted.Count);
        Assert.Equal(12, targeted.Distinct().Count());
    }

    [Fact]
    public void Sft_of_a_block_diffusion_model_never_masks_the_prompt_and_learns_the_answers()
    {
        var tok = new ByteTokenizer();
        var obj = new BlockDiffusionObjective(tok.MaskId, 4);
        int[] padded = [.. tok.Encode("abcdef"), .. tok.Encode("xy"), tok.EosId, tok.EosId, tok.EosId, tok.EosId];
        TrainingBatch b = obj.SampleAnswers(padded, 1, 12, [6], new Random(2));
        Assert.All(b.Rows, r => Assert.InRange(r, 6, 11));            // x_t rows of the answer only
        Assert.Equal(padded, b.Tokens.AsSpan(12, 12).ToArray());      // x_0 half clean

        var examples = Enumerable.Range(0, 8).Select(i => (tok.Encode($"q{i}?").ToArray(), tok.Encode($"a{i}.").ToArray())).ToList();
        var o = new TrainerOptions { Steps = 40, BatchSize = 4, SeqLen = 2, WarmupSteps = 4, LearningRate = 1e-2, SaveEvery = 40, Seed = 5,
            Config = TestConfigs.Bytes(32, 2, 2, 1, 64, 64).As(ModelKind.BlockDiffusion, 4) };
        var losses = new List<double>();
        TrainableModel m = Trainer.RunSft(o, examples, tok, TestPaths.TempDir(), resume: false, initFrom: null, p => losses.Add(p.Loss), blockSize: 4);
        Assert.Equal(ModelKind.BlockDiffusion, m.Config.Kind);
        Assert.True(losses.TakeLast(5).Average() < 0.5 * losses.Take(3).Average(), $"sft loss {losses.Take(3).Average():F3} → {losses.TakeLast(5).Average():F3}");
    }
}
