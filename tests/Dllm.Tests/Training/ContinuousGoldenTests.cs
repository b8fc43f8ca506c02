using System.Text.Json;
using Dllm.Model;
using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Training;

/// <summary>
/// The continuous families' loss, every parameter gradient and the loss after one SGD step against
/// PyTorch (scripts/make_continuous_golden.py: the papers' math written independently, float64 autograd on
/// the same F32 weights, the noise and timesteps fed in from files).
/// </summary>
public class ContinuousGoldenTests
{
    private const double Tolerance = 1e-4;
    private readonly ITestOutputHelper _out = TestContext.Current.TestOutputHelper!;

    [Theory]
    [InlineData("diffusion_lm")]
    [InlineData("diffuseq")]
    [InlineData("ssd_lm")]
    public void Loss_gradient_and_one_step_match_pytorch(string family)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("continuous", family, "draw.json")));
        using JsonDocument expectDoc = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("continuous", family, "expected.json")));
        JsonElement root = doc.RootElement, cfg = root.GetProperty("config"), expect = expectDoc.RootElement;
        var kind = family switch { "diffusion_lm" => ModelKind.DiffusionLm, "diffuseq" => ModelKind.DiffuSeq, _ => ModelKind.SsdLm };
        var config = new ModelConfig
        {
            DModel = cfg.GetProperty("d_model").GetInt32(), NHeads = cfg.GetProperty("n_heads").GetInt32(),
            NKvHeads = cfg.GetProperty("n_kv_heads").GetInt32(), NLayers = cfg.GetProperty("n_layers").GetInt32(),
            MlpHiddenSize = cfg.GetProperty("mlp_hidden_size").GetInt32(), VocabSize = cfg.GetProperty("vocab_size").GetInt32(),
            MaxSequenceLength = cfg.GetProperty("max_sequence_length").GetInt32(), RopeTheta = cfg.GetProperty("rope_theta").GetDouble(),
            RmsNormEps = cfg.GetProperty("rms_norm_eps").GetDouble(), EosTokenId = 0, PadTokenId = 0, MaskTokenId = 1,
            Kind = kind, WeightTying = kind != ModelKind.SsdLm,
            DiffusionSteps = cfg.GetProperty("diffusion_steps").GetInt32(), NoiseSchedule = cfg.GetProperty("noise_schedule").GetString(),
            SimplexK = kind == ModelKind.SsdLm ? cfg.GetProperty("simplex_k").GetDouble() : 0,
            SsdBlockSize = kind == ModelKind.SsdLm ? cfg.GetProperty("ssd_block_size").GetInt32() : 0,
        };
        var model = new TrainableModel(config);
        Dictionary<string, float[]> weights = TrainGoldenTests.ReadSafeTensors(TestPaths.Golden("continuous", family, "weights.safetensors"));
        Assert.Equal(model.Parameters.Tensors.Count, weights.Count);
        foreach (ParameterTensor p in model.Parameters.Tensors) weights[p.Name].CopyTo(model.Parameters.Value(p));
        Dictionary<string, float[]> noise = TrainGoldenTests.ReadSafeTensors(TestPaths.Golden("continuous", family, "draw.safetensors"));
        int batch = root.GetProperty("batch").GetInt32(), length = root.GetProperty("length").GetInt32();
        int[] tokens = Ints(root, "tokens"), t = Ints(root, "t");
        NoiseSchedule schedule = NoiseSchedule.For(config);

        Func<bool, double> loss;
        if (kind == ModelKind.SsdLm)
        {
            var objective = new SimplexDiffusionObjective(schedule, config.SimplexK, config.SsdBlockSize);
            var draw = new SimplexDiffusionDraw(tokens, batch, length, root.GetProperty("context").GetInt32(), t, noise["eps"]);
            loss = backward => objective.Loss(model, draw, 1f, backward);
        }
        else
        {
            var objective = new EmbeddingDiffusionObjective(schedule);
            bool[] noised = Ints(root, "noised").Select(x => x != 0).ToArray();
            var draw = new EmbeddingDiffusionDraw(tokens, batch, length, noised, t, noise["eps0"], noise["eps"]);
            EmbeddingDiffusionLoss terms = objective.Loss(model, draw, 1f, backward: false);
            _out.WriteLine($"mse {terms.Mse:R}, rounding {terms.Rounding:R}, prior {terms.Prior:R}");
            Near(expect.GetProperty("mse").GetDouble(), terms.Mse, "mse");
            Near(expect.GetProperty("rounding").GetDouble(), terms.Rounding, "rounding");
            Near(expect.GetProperty("prior").GetDouble(), terms.Prior, "prior");
            loss = backward => objective.Loss(model, draw, 1f, backward).Total;
        }

        model.ZeroGrad();
        Near(expect.GetProperty("loss").GetDouble(), loss(true), "loss");
        Dictionary<string, float[]> grads = TrainGoldenTests.ReadSafeTensors(TestPaths.Golden("continuous", family, "grads.safetensors"));
        double worst = 0;
        foreach (ParameterTensor p in model.Parameters.Tensors)
        {
            double e = GradCheck.RelativeError(model.Parameters.Grad(p), grads[p.Name].Select(x => (double)x).ToArray());
            worst = Math.Max(worst, e);
            Assert.True(e <= Tolerance, $"{family} {p.Name}: gradient relative error {e:E3}");
        }
        _out.WriteLine($"worst per-tensor gradient relative error {worst:E2}");

        // One SGD step, then the same draw again.
        float lr = (float)expect.GetProperty("lr").GetDouble();
        float[] values = model.Parameters.Values, g = model.Parameters.Grads;
        for (int i = 0; i < values.Length; i++) values[i] -= lr * g[i];
        Near(expect.GetProperty("loss_after_sgd_step").GetDouble(), loss(false), "loss after one SGD step");
    }

    private void Near(double expected, double actual, string what)
    {
        double err = Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), 1e-12);
        _out.WriteLine($"{what}: {actual:R} vs PyTorch {expected:R} (relative error {err:E2})");
        Assert.True(err <= Tolerance, $"{what}: {actual} vs PyTorch {expected}");
    }

    private static int[] Ints(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(x => x.GetInt32()).ToArray();
}
