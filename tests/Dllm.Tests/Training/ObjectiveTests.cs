using Dllm.Model;
using Dllm.Tensors;
using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Training;

/// <summary>Invariants of the objectives and the likelihood estimators.</summary>
public class ObjectiveTests
{
    private const int Mask = 10, Eos = 9, Vocab = 11;

    [Fact]
    public void Mdm_build_masks_exactly_the_given_positions_with_weight_one_over_p_B_L()
    {
        int[] clean = [1, 2, 3, 4, 5, 6, 7, 8];
        bool[] masked = [true, false, false, true, false, true, true, true];
        double[] p = [0.25, 0.8];
        TrainingBatch b = MaskedDiffusionObjective.Build(clean, 2, 4, masked, p, Mask);
        Assert.Equal([Mask, 2, 3, Mask, 5, Mask, Mask, Mask], b.Tokens);
        Assert.Equal([0, 3, 5, 6, 7], b.Rows);
        Assert.Equal([1, 4, 6, 7, 8], b.Targets);
        Assert.Equal([1 / (0.25f * 8), 1 / (0.25f * 8), 1 / (0.8f * 8), 1 / (0.8f * 8), 1 / (0.8f * 8)], b.Weights);
        Assert.Equal(AttentionPattern.Bidirectional, b.Pattern);
    }

    [Fact]
    public void Mdm_loss_is_sum_of_masked_ce_over_p_divided_by_B_L()
    {
        TrainableModel m = ModelGradientTests.RandomModel(ModelGradientTests.Tiny(1), 3);
        int[] clean = [1, 2, 3, 4, 5, 6, 7, 8];
        bool[] masked = [true, false, false, true, false, true, true, true];
        double[] p = [0.25, 0.8];
        TrainingBatch b = MaskedDiffusionObjective.Build(clean, 2, 4, masked, p, Mask);
        double loss = m.Forward(b);
        var logits = new float[2 * 4 * Vocab];
        m.Model.Logits(b.Tokens, 2, 4, [0, 1, 2, 3], logits);
        double expect = 0;
        for (int r = 0; r < 8; r++)
        {
            if (!masked[r]) continue;
            ReadOnlySpan<float> z = logits.AsSpan(r * Vocab, Vocab);
            expect += (Softmax.LogSumExp(z) - z[clean[r]]) / p[r / 4];
        }
        expect /= 8;
        Assert.Equal(expect, loss, 1e-5 * expect);
    }

    [Fact]
    public void Mdm_sampling_is_unbiased_and_cuts_about_one_percent_of_batches()
    {
        var obj = new MaskedDiffusionObjective(Mask);
        var rng = new Random(5);
        int[] clean = Enumerable.Range(0, 4 * 16).Select(i => i % 9).ToArray();
        double weightSum = 0, maskedFraction = 0; int cuts = 0, n = 4000;
        for (int s = 0; s < n; s++)
        {
            TrainingBatch b = obj.Sample(clean, 4, 16, rng);
            if (b.Length != 16) { cuts++; Assert.InRange(b.Length, 1, 16); continue; }
            weightSum += b.Weights.Sum(w => (double)w);   // E[#masked / (p·B·L)] = 1
            maskedFraction += b.Rows.Length / 64.0;       // E[p] = (1 + eps)/2
            foreach (int r in b.Rows) Assert.Equal(Mask, b.Tokens[r]);
            Assert.Equal(b.Rows.Length, b.Tokens.Count(t => t == Mask));
        }
        int kept = n - cuts;
        Assert.InRange(weightSum / kept, 0.95, 1.05);
        Assert.InRange(maskedFraction / kept, 0.48, 0.52);
        Assert.InRange(cuts, 20, 65); // 1% of 4000 = 40
        // Same seed, same batch.
        Assert.Equal(obj.Sample(clean, 4, 16, new Random(9)).Tokens, obj.Sample(clean, 4, 16, new Random(9)).Tokens);
    }

    [Fact]
    public void Sft_never_masks_the_prompt_and_trains_on_eos_padding()
    {
        var sft = new SftObjective(Mask, Eos);
        (int[] tokens, int len, int[] pl) = sft.Pad([([1, 2, 3], [4, 5]), ([6], [7, 8, 1, 2])], length: 6);
        Assert.Equal(5, sft.Pad([([1, 2, 3], [4, 5]), ([6], [7, 8, 1, 2])]).Length); // default: the longest example
        Assert.Equal(6, len);
        Assert.Equal([1, 2, 3, 4, 5, Eos, 6, 7, 8, 1, 2, Eos], tokens);
        var rng = new Random(6);
        bool eosTrained = false;
        for (int s = 0; s < 500; s++)
        {
            TrainingBatch b = sft.Sample(tokens, 2, len, pl, rng);
            for (int seq = 0; seq < 2; seq++)
                for (int i = 0; i < pl[seq]; i++) Assert.Equal(tokens[seq * len + i], b.Tokens[seq * len + i]);
            for (int r = 0; r < b.Rows.Length; r++)
            {
                int seq = b.Rows[r] / len, pos = b.Rows[r] % len;
                Assert.True(pos >= pl[seq], "a prompt position was masked");
                Assert.Equal(tokens[b.Rows[r]], b.Targets[r]);
                // w = 1/(p · answer_length · B) with p in [eps, 1]
                double invP = b.Weights[r] * (len - pl[seq]) * 2;
                Assert.InRange(invP, 1 - 1e-5, 1000 * (1 + 1e-5));
                eosTrained |= b.Targets[r] == Eos;
            }
        }
        Assert.True(eosTrained);
    }

    [Fact]
    public void Ar_objective_is_causal_next_token_mean()
    {
        TrainingBatch b = new AutoregressiveObjective().Sample([1, 2, 3, 4, 5, 6], 2, 3, new Random(1));
        Assert.Equal(AttentionPattern.Causal, b.Pattern);
        Assert.Equal([0, 1, 3, 4], b.Rows);
        Assert.Equal([2, 3, 5, 6], b.Targets);
        Assert.All(b.Weights, w => Assert.Equal(0.25f, w));
        Assert.Equal([1, 2, 3, 4, 5, 6], b.Tokens); // nothing masked

        // Causal: logits at position i do not depend on later tokens.
        // (The same weights under both patterns: parameters are laid out alike whatever the kind.)
        Transformer causal = ModelGradientTests.RandomModel(ModelGradientTests.Tiny(1).As(ModelKind.Autoregressive), 4).Model;
        Transformer bidirectional = ModelGradientTests.RandomModel(ModelGradientTests.Tiny(1), 4).Model;
        var a = new float[2 * Vocab]; var c = new float[2 * Vocab];
        causal.Logits([1, 2, 3, 4], 1, 4, [0, 1], a);
        causal.Logits([1, 2, 7, 8], 1, 4, [0, 1], c);
        Assert.Equal(a, c);
        bidirectional.Logits([1, 2, 7, 8], 1, 4, [0, 1], c);
        Assert.NotEqual(a, c);
    }

    /// <summary>Records its inputs and returns all-zero logits (every CE is then exactly ln V).</summary>
    private sealed class UniformSpy : IDenoisingModel
    {
        public List<int[]> Inputs { get; } = [];
        public int VocabSize => Vocab;
        public int MaxSequenceLength => 64;
        public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
            Span<float> logits, ReadOnlySpan<byte> keyMask = default)
        {
            Inputs.Add(tokens.ToArray());
            logits[..(batch * positions.Length * Vocab)].Clear();
        }
    }

    [Fact]
    public void Elbo_masks_only_answers_with_stratified_counts_and_reweights_by_L_over_l()
    {
        var spy = new UniformSpy();
        int[] prompt = [1, 2, 3], answer = [4, 5, 6, 7, 8];
        var est = new ElboEstimator(Mask, samples: 32, batchSize: 8);
        double nll = est.NegativeElbo(spy, prompt, answer, new Random(7));
        Assert.Equal(answer.Length * Math.Log(Vocab), nll, 1e-9); // Σ_l (l·ln V)·L/l / samples
        Assert.Equal(4, spy.Inputs.Count);
        foreach (int[] input in spy.Inputs)
            for (int s = 0; s < 8; s++)
            {
                ReadOnlySpan<int> row = input.AsSpan(s * 8, 8);
                Assert.Equal(prompt, row[..3].ToArray());
                int masked = row[3..].ToArray().Count(t => t == Mask);
                Assert.InRange(masked, 1, 5);
            }
        int[] counts = ElboEstimator.MaskCounts(5, 5, new Random(8));
        Assert.Equal([1, 2, 3, 4, 5], counts.Order().ToArray()); // b = L: every count exactly once
    }

    [Fact]
    public void Elbo_and_ar_nll_agree_on_a_uniform_model_in_nats_per_token()
    {
        // All-zero weights: every logit is 0, so both give exactly ln V per token.
        Transformer ar = new TrainableModel(ModelGradientTests.Tiny(1).As(ModelKind.Autoregressive)).Model;
        Transformer mdm = new TrainableModel(ModelGradientTests.Tiny(1)).Model;
        int[] prompt = [1, 2], answer = [3, 4, 5, 6];
        double nll = AutoregressiveObjective.NegativeLogLikelihood(ar, prompt, answer) / answer.Length;
        double elbo = new ElboEstimator(Mask, 16, 4).NegativeElbo(mdm, prompt, answer, new Random(1)) / answer.Length;
        Assert.Equal(Math.Log(Vocab), nll, 1e-6);
        Assert.Equal(Math.Log(Vocab), elbo, 1e-6);
        Assert.Throws<ArgumentException>(() => AutoregressiveObjective.NegativeLogLikelihood(ar, [], answer));
    }
}
