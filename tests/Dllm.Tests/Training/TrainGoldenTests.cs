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

    /// <summary>The tiny model of scripts/make_train_golden.py with its weights, as <paramref name="kind"/>.</summary>
    private static TrainableModel GoldenModel(JsonElement cfg, ModelKind kind, int blockSize = 0)
    {
        int vocab = cfg.GetProperty("vocab_size").GetInt32(), maskId = cfg.GetProperty("mask_token_id").GetInt32();
        var shape = new ModelConfig
        {
            DModel = cfg.GetProperty("d_model").GetInt32(), NHeads = cfg.GetProperty("n_heads").GetInt32(),
            NKvHeads = cfg.GetProperty("n_kv_heads").GetInt32(), NLayers = cfg.GetProperty("n_layers").GetInt32(),
            MlpHiddenSize = cfg.GetProperty("mlp_hidden_size").GetInt32(), VocabSize = vocab,
            MaxSequenceLength = cfg.GetProperty("max_sequence_length").GetInt32(), RopeTheta = cfg.GetProperty("rope_theta").GetDouble(),
            RmsNormEps = cfg.GetProperty("rms_norm_eps").GetDouble(), EosTokenId = 0, PadTokenId = 0, MaskTokenId = maskId,
        };
        var model = new TrainableModel(shape.As(kind, blockSize));
        Dictionary<string, float[]> weights = ReadSafeTensors(TestPaths.Golden("train", "weights.safetensors"));
        foreach (ParameterTensor t in model.Parameters.Tensors) weights[t.Name].CopyTo(model.Parameters.Value(t));
        return model;
    }

    /// <summary>
    /// One BD3-LM step (scripts/make_bd3_golden.py: the paper's vectorized loss over [x_t ; x_0] with an explicit
    /// three-part mask, blocks of 2, a rate per block) on the same weights: loss and gradients within 1e-4.
    /// </summary>
    [Fact]
    public void One_bd3_step_matches_pytorch()
    {
        using JsonDocument trainDoc = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("train", "batch.json")));
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("bd3", "batch.json")));
        JsonElement root = doc.RootElement, cfg = trainDoc.RootElement.GetProperty("config");
        int blockSize = root.GetProperty("block_size").GetInt32();
        TrainableModel model = GoldenModel(cfg, ModelKind.BlockDiffusion, blockSize);
        int batch = root.GetProperty("batch").GetInt32(), length = root.GetProperty("length").GetInt32();
        int[] clean = root.GetProperty("clean").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        bool[] masked = root.GetProperty("masked").EnumerateArray().Select(e => e.GetInt32() != 0).ToArray();
        double[] t = root.GetProperty("t").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        TrainingBatch b = BlockDiffusionObjective.Build(clean, batch, length, blockSize, masked, t, cfg.GetProperty("mask_token_id").GetInt32());

        double expectLoss = double.Parse(File.ReadAllText(TestPaths.Golden("bd3", "loss")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        model.ZeroGrad();
        double loss = model.Forward(b);
        model.Backward();
        Assert.True(Math.Abs(loss - expectLoss) <= Tolerance * Math.Abs(expectLoss), $"loss {loss} vs PyTorch {expectLoss}");
        Dictionary<string, float[]> grads = ReadSafeTensors(TestPaths.Golden("bd3", "grads.safetensors"));
        foreach (ParameterTensor p in model.Parameters.Tensors)
        {
            double e = GradCheck.RelativeError(model.Parameters.Grad(p), grads[p.Name].Select(x => (double)x).ToArray());
            Assert.True(e <= Tolerance, $"{p.Name}: gradient relative error {e:E3}");
        }
    }

    [Fact]
    public void One_mdm_step_matches_pytorch()
    {
        using JsonDocument batchDoc = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("train", "batch.json")));
        JsonElement root = batchDoc.RootElement, cfg = root.GetProperty("config");
        TrainableModel model = GoldenModel(cfg, ModelKind.MaskedDiffusion);
        Assert.Equal(model.Parameters.Tensors.Count, ReadSafeTensors(TestPaths.Golden("train", "weights.safetensors")).Count);

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
