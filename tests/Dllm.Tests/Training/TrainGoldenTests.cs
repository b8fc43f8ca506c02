using System.Buffers.Binary;
using System.Text.Json;
using Dllm.Model;
using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Training;

/// <summary>
/// One masked-diffusion training step against PyTorch (scripts/make_train_golden.py, float64
/// autograd on the same F32 weights): loss and every parameter gradient within 1e-4 relative.
/// </summary>
public class TrainGoldenTests
{
    private const double Tolerance = 1e-4;
    private readonly ITestOutputHelper _out = TestContext.Current.TestOutputHelper!;

    /// <summary>Test-only F32 safetensors reader: 8-byte LE header length, JSON header, data.</summary>
    internal static Dictionary<string, float[]> ReadSafeTensors(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        using JsonDocument header = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var result = new Dictionary<string, float[]>();
        foreach (JsonProperty t in header.RootElement.EnumerateObject())
        {
            if (t.Name == "__metadata__") continue;
            Assert.Equal("F32", t.Value.GetProperty("dtype").GetString());
            JsonElement off = t.Value.GetProperty("data_offsets");
            int begin = (int)(8 + n + off[0].GetInt64()), end = (int)(8 + n + off[1].GetInt64());
            var data = new float[(end - begin) / 4];
            for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(begin + 4 * i));
            result[t.Name] = data;
        }
        return result;
    }

    [Fact]
    public void One_mdm_step_matches_pytorch()
    {
        using JsonDocument batchDoc = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("train", "batch.json")));
        JsonElement root = batchDoc.RootElement, cfg = root.GetProperty("config");
        int vocab = cfg.GetProperty("vocab_size").GetInt32(), maskId = cfg.GetProperty("mask_token_id").GetInt32();
        var shape = new ModelConfig
        {
            DModel = cfg.GetProperty("d_model").GetInt32(), NHeads = cfg.GetProperty("n_heads").GetInt32(),
            NKvHeads = cfg.GetProperty("n_kv_heads").GetInt32(), NLayers = cfg.GetProperty("n_layers").GetInt32(),
            MlpHiddenSize = cfg.GetProperty("mlp_hidden_size").GetInt32(), VocabSize = vocab,
            MaxSequenceLength = cfg.GetProperty("max_sequence_length").GetInt32(), RopeTheta = cfg.GetProperty("rope_theta").GetDouble(),
            RmsNormEps = cfg.GetProperty("rms_norm_eps").GetDouble(), EosTokenId = 0, PadTokenId = 0, MaskTokenId = maskId,
        };
        var model = new TrainableModel(shape);
        Dictionary<string, float[]> weights = ReadSafeTensors(TestPaths.Golden("train", "weights.safetensors"));
        Assert.Equal(model.Parameters.Tensors.Count, weights.Count);
        foreach (ParameterTensor t in model.Parameters.Tensors) weights[t.Name].CopyTo(model.Parameters.Value(t));

        int batch = root.GetProperty("batch").GetInt32(), length = root.GetProperty("length").GetInt32();
        int[] clean = root.GetProperty("clean").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        bool[] masked = root.GetProperty("masked").EnumerateArray().Select(e => e.GetInt32() != 0).ToArray();
        double[] p = root.GetProperty("p").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        TrainingBatch b = MaskedDiffusionObjective.Build(clean, batch, length, masked, p, cfg.GetProperty("mask_token_id").GetInt32());

        double expectLoss = double.Parse(File.ReadAllText(TestPaths.Golden("train", "loss")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        model.ZeroGrad();
        double loss = model.Forward(b);
        model.Backward();
        double lossErr = Math.Abs(loss - expectLoss) / Math.Abs(expectLoss);
        _out.WriteLine($"loss {loss:R} vs {expectLoss:R}: relative error {lossErr:E2}");
        Assert.True(lossErr <= Tolerance, $"loss {loss} vs PyTorch {expectLoss}");

        Dictionary<string, float[]> grads = ReadSafeTensors(TestPaths.Golden("train", "grads.safetensors"));
        double worst = 0;
        foreach (ParameterTensor t in model.Parameters.Tensors)
        {
            double e = GradCheck.RelativeError(model.Parameters.Grad(t), grads[t.Name].Select(x => (double)x).ToArray());
            worst = Math.Max(worst, e);
            Assert.True(e <= Tolerance, $"{t.Name}: gradient relative error {e:E3}");
        }
        _out.WriteLine($"worst per-tensor gradient relative error {worst:E2}");
    }
}
