using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tensors;
using Dllm.Tests.Training;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Tests.Experiments;

/// <summary>The AR baseline's pieces: the SFT objective on answers only, the causal view, greedy decoding.</summary>
public class AutoregressiveTests
{
    [Fact]
    public void Ar_sft_targets_are_the_answer_tokens_predicted_from_the_previous_position()
    {
        // Two examples padded to 5: prompt [1,2] answer [3,4]; prompt [5] answer [6,7,8].
        int[] padded = [1, 2, 3, 4, 9, 5, 6, 7, 8, 9];
        TrainingBatch b = AutoregressiveSftObjective.Build(padded, 2, 5, [2, 1], [2, 3]);
        Assert.Equal([1, 2, 5, 6, 7], b.Rows);
        Assert.Equal([3, 4, 6, 7, 8], b.Targets);
        Assert.All(b.Weights, w => Assert.Equal(1f / 5, w));
        Assert.Equal(AttentionPattern.Causal, b.Pattern);
        Assert.Equal(padded, b.Tokens);
    }

    [Fact]
    public void Ar_sft_rejects_an_empty_prompt_and_an_overlong_answer()
    {
        Assert.Contains("empty prompt", Assert.Throws<ArgumentException>(() => AutoregressiveSftObjective.Build([1, 2, 3], 1, 3, [0], [2])).Message);
        Assert.Contains("does not fit", Assert.Throws<ArgumentException>(() => AutoregressiveSftObjective.Build([1, 2, 3], 1, 3, [2], [2])).Message);
    }

    [Fact]
    public void Ar_sft_run_records_its_objective_and_loads_only_as_a_causal_model()
    {
        var tok = new ByteTokenizer();
        var examples = Enumerable.Range(0, 4).Select(i => ((int[])[ByteTokenizer.Bos, 'a' + i], (int[])['b' + i, ByteTokenizer.Eos])).ToList();
        ModelConfig shape = TestConfigs.Bytes(16, 2, 2, 1, 32, 16);
        var o = new TrainerOptions { Config = shape, Steps = 60, BatchSize = 8, SeqLen = 2, LearningRate = 1e-2, WarmupSteps = 2, SaveEvery = 60 };
        string ar = TestPaths.TempDir(), mdm = TestPaths.TempDir();
        var losses = new List<double>();
        Trainer.RunSft(o, examples, tok, ar, false, null, p => losses.Add(p.Loss), autoregressive: true);
        Trainer.RunSft(o with { Steps = 2, SaveEvery = 2 }, examples, tok, mdm, false, null);
        Assert.True(losses.TakeLast(3).Average() < 0.5 * losses.Take(3).Average(), $"AR SFT loss {losses[0]:F3} → {losses[^1]:F3}");
        using Transformer arModel = Transformer.Load(ar), mdmModel = Transformer.Load(mdm);
        Assert.Equal(ModelKind.Autoregressive, arModel.Config.Kind);
        Assert.Equal(AttentionPattern.Causal, arModel.Config.Pattern);
        Assert.Equal(ModelKind.MaskedDiffusion, mdmModel.Config.Kind);
        Assert.Equal(AttentionPattern.Bidirectional, mdmModel.Config.Pattern);
        Assert.Contains("autoregressive", Assert.Throws<ArgumentException>(() => AutoregressiveObjective.NegativeLogLikelihood(mdmModel, [1], [2])).Message);
        // It learned the mapping: greedy decoding answers each prompt.
        var decoded = new AutoregressiveDecoder(arModel).GreedyBatch([.. examples.Select(e => (IReadOnlyList<int>)e.Item1)], 4, tok.EosId, tok.EosId);
        Assert.Equal(examples.Select(e => e.Item2), decoded.Select(d => d.Answer));
    }

    [Fact]
    public void Causal_model_logits_ignore_later_tokens()
    {
        Transformer m = ModelGradientTests.RandomModel(ModelGradientTests.Tiny(1).As(ModelKind.Autoregressive), 5).Model;
        Transformer bidirectional = ModelGradientTests.RandomModel(ModelGradientTests.Tiny(1), 5).Model; // same weights
        var a = new float[11]; var b = new float[11];
        m.Logits([1, 2, 3, 4], 1, 4, [1], a);
        m.Logits([1, 2, 7, 8], 1, 4, [1], b);
        Assert.Equal(a, b);
        bidirectional.Logits([1, 2, 7, 8], 1, 4, [1], b); // the bidirectional model does see them
        Assert.NotEqual(a, b);
    }

    /// <summary>Next token = last token + 1 (mod vocab): a causal "model" whose answers are known.</summary>
    private sealed class Successor : IDenoisingModel
    {
        public int VocabSize => 11;
        public int MaxSequenceLength => 32;
        public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
        {
            logits.Clear();
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < positions.Length; i++)
                    logits[(b * positions.Length + i) * 11 + (tokens[b * length + positions[i]] + 1) % 11] = 1;
        }
    }

    [Fact]
    public void Greedy_decoding_appends_argmax_and_stops_at_eos()
    {
        var d = new AutoregressiveDecoder(new Successor());
        var r = d.GreedyBatch([[1, 5], [7], [2]], maxNewTokens: 6, eosId: 9, padId: 0);
        Assert.Equal([6, 7, 8, 9], r[0].Answer);
        Assert.Equal([8, 9], r[1].Answer);
        Assert.Equal([3, 4, 5, 6, 7, 8], r[2].Answer); // no EOS within 6 tokens
        Assert.Equal([4, 2, 6], r.Select(x => x.ForwardPasses));
        Assert.Contains("maximum sequence length", Assert.Throws<ArgumentException>(() => d.GreedyBatch([[1]], 40, 9, 0)).Message);
        Assert.Contains("empty prompt", Assert.Throws<ArgumentException>(() => d.GreedyBatch([[]], 4, 9, 0)).Message);
    }

    [Fact]
    public void Batched_greedy_decoding_of_a_real_causal_model_equals_decoding_each_prompt_alone()
    {
        Transformer m = ModelGradientTests.RandomModel(ModelGradientTests.Tiny(1).As(ModelKind.Autoregressive), 7).Model;
        var d = new AutoregressiveDecoder(m);
        IReadOnlyList<int>[] prompts = [[1, 2, 3, 4], [5], [6, 7]];
        var batched = d.GreedyBatch(prompts, 5, eosId: 9, padId: 0);
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(d.GreedyBatch([prompts[i]], 5, 9, 0)[0].Answer, batched[i].Answer);
    }
}
