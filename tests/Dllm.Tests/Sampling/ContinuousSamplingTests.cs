using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tests.Training;
using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Sampling;

/// <summary>
/// Invariants of the continuous samplers on an untrained model (they must hold whatever the weights):
/// DiffuSeq's anchored prompt rows never change, the clamping trick maps every prediction onto a
/// vocabulary embedding, the respaced steps are what was asked for, and bad options get one clear error.
/// </summary>
public class ContinuousSamplingTests
{
    private static TrainableModel Model(ModelKind kind)
    {
        TrainableModel m = TrainableModel.Create(ContinuousOverfitTests.Config(kind), seed: 5);
        m.InitializeContinuousEmbeddings(new Random(6));
        return m;
    }

    private static float[] Row(TrainableModel m, int id)
    {
        int d = m.Config.DModel;
        return m.Parameters.Value(m.Parameters[m.Config.Names.Embedding]).Slice(id * d, d).ToArray();
    }

    [Fact]
    public void Diffuseq_prompt_rows_stay_the_clean_embeddings_at_every_step()
    {
        TrainableModel m = Model(ModelKind.DiffuSeq);
        int[] prompt = [5, 6, 2, 9];
        int d = m.Config.DModel, steps = 0;
        new EmbeddingDiffusionSampler(m.Model).Generate(prompt, new ContinuousDecodingOptions
        {
            AnswerLength = 5, Steps = 20, Seed = 3,
            OnStep = s =>
            {
                steps++;
                Assert.Equal((prompt.Length + 5) * d, s.State.Length);
                for (int i = 0; i < prompt.Length; i++) Assert.Equal(Row(m, prompt[i]), s.State.AsSpan(i * d, d).ToArray());
                // The answer rows do move (else the check above would prove nothing about anchoring).
                Assert.Contains(s.State.Skip(prompt.Length * d), x => x != 0);
            },
        });
        Assert.Equal(20, steps);
    }

    [Fact]
    public void Clamping_maps_every_prediction_onto_a_vocabulary_embedding()
    {
        TrainableModel m = Model(ModelKind.DiffusionLm);
        int d = m.Config.DModel, v = m.Config.EmbeddingRows;
        var table = Enumerable.Range(0, v).Select(id => Row(m, id)).ToArray();
        int checkedSteps = 0;
        ContinuousResult r = new EmbeddingDiffusionSampler(m.Model).Generate([], new ContinuousDecodingOptions
        {
            AnswerLength = 6, Steps = 10, Seed = 1,
            OnStep = s =>
            {
                checkedSteps++;
                for (int i = 0; i < 6; i++)
                {
                    float[] x0 = s.Prediction.AsSpan(i * d, d).ToArray();
                    Assert.Equal(table[s.Answer[i]], x0); // exactly the embedding of the word it reads as
                }
            },
        });
        Assert.Equal(10, checkedSteps);
        // The last step lands on the data: the canvas is the clamped prediction, word for word.
        Assert.Equal(6, r.Answer.Length);
    }

    [Fact]
    public void Without_clamping_predictions_are_not_embeddings()
    {
        TrainableModel m = Model(ModelKind.DiffusionLm);
        int d = m.Config.DModel;
        bool anyOff = false;
        new EmbeddingDiffusionSampler(m.Model).Generate([], new ContinuousDecodingOptions
        {
            AnswerLength = 4, Steps = 5, Seed = 1, Clamp = false,
            OnStep = s => anyOff |= !s.Prediction.AsSpan(0, d).SequenceEqual(Row(m, s.Answer[0])),
        });
        Assert.True(anyOff, "the raw x0 prediction of an untrained model equalled an embedding exactly");
    }

    [Fact]
    public void Respaced_steps_cover_both_ends_and_posterior_reaches_the_data()
    {
        var s = new NoiseSchedule("sqrt", 100);
        Assert.Equal([0, 33, 66, 99], s.Respaced(4));
        Assert.Equal(100, s.Respaced(500).Length);
        var (cx0, cxt, std) = s.Posterior(33, -1);
        Assert.Equal(1.0, cx0, 12);
        Assert.Equal(0.0, cxt, 12);
        Assert.Equal(0.0, std);
        Assert.True(s.AlphaBar(0) is > 0.9 and < 1 && s.AlphaBar(99) < 1e-3, "sqrt schedule: ᾱ₀ near 1, ᾱ_T near 0");
        Assert.Throws<ArgumentException>(() => new NoiseSchedule("linear", 10));
    }

    [Fact]
    public void Bad_options_and_wrong_models_get_one_clear_error()
    {
        TrainableModel m = Model(ModelKind.DiffusionLm);
        var sampler = new EmbeddingDiffusionSampler(m.Model);
        Assert.Contains("gen_length", Assert.Throws<DecodingOptionException>(() => sampler.Generate([], new ContinuousDecodingOptions { AnswerLength = 0 })).Message);
        Assert.Contains("max_sequence_length", Assert.Throws<ArgumentException>(() => sampler.Generate([1, 2], new ContinuousDecodingOptions { AnswerLength = 15 })).Message);
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => sampler.Generate([99], new ContinuousDecodingOptions { AnswerLength = 4 })).Message);
        Assert.Contains("ssd_lm", Assert.Throws<ArgumentException>(() => new SimplexDiffusionSampler(m.Model)).Message);
        TrainableModel mdm = TrainableModel.Create(TestConfigs.Tiny(16, 2, 2, 1, 32, 16, 16), seed: 1);
        Assert.Contains("diffusion_lm", Assert.Throws<ArgumentException>(() => new EmbeddingDiffusionSampler(mdm.Model)).Message);
    }
}
