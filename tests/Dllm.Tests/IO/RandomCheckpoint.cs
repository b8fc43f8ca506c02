using Dllm.IO;
using Dllm.Model;

namespace Dllm.Tests.IO;

/// <summary>
/// A random f32 checkpoint of any config: every tensor <see cref="TransformerWeights.Bind(ModelConfig, Func{string, int, int, Dllm.Tensors.MatrixView}, Func{string, int, ReadOnlyMemory{float}}, Func{string, int, ReadOnlyMemory{float}})"/>
/// asks for, matrices ~ U(±√(3/fan_in)) (unit output variance), norms 1 ± 0.05, biases U(±0.1).
/// </summary>
internal static class RandomCheckpoint
{
    /// <summary>Writes config.json and model.safetensors into a new temporary directory and returns it.</summary>
    public static string Write(ModelConfig c, int seed = 5)
    {
        string dir = TestPaths.TempDir();
        c.Save(Path.Combine(dir, "config.json"));
        var rng = new Random(seed);
        var entries = new List<SafeTensorsWriter.Entry>();
        float U(double bound) => (float)((rng.NextDouble() * 2 - 1) * bound);
        TransformerWeights.Bind(c,
            (name, rows, cols) =>
            {
                entries.Add(SafeTensorsWriter.Entry.FromSingle(name, [rows, cols], [.. Enumerable.Range(0, rows * cols).Select(_ => U(Math.Sqrt(3.0 / cols)))]));
                return default;
            },
            (name, n) =>
            {
                entries.Add(SafeTensorsWriter.Entry.FromSingle(name, [n], [.. Enumerable.Range(0, n).Select(_ => 1 + U(0.05))]));
                return default;
            },
            (name, n) =>
            {
                entries.Add(SafeTensorsWriter.Entry.FromSingle(name, [n], [.. Enumerable.Range(0, n).Select(_ => U(0.1))]));
                return default;
            });
        SafeTensorsWriter.Write(Path.Combine(dir, Checkpoint.SingleFileName), entries);
        return dir;
    }

    /// <summary>A random LLaDA, Dream (Qwen2 block, q/k/v biases, shifted logits) or LLaDA-MoE (q/k norms, 8 experts of 64, top 2)
    /// of width <paramref name="d"/>, FFN width <paramref name="hidden"/>, 4 heads, 2 KV heads, 2 layers, vocabulary 300 (eos 298, mask 299).</summary>
    public static ModelConfig Family(ModelFamily family, int d = 128, int hidden = 256)
    {
        var c = new ModelConfig
        {
            DModel = d, NHeads = 4, NKvHeads = 2, NLayers = 2, MlpHiddenSize = hidden, VocabSize = 300, EmbeddingSize = 300,
            MaxSequenceLength = 128, RopeTheta = 10000, RmsNormEps = 1e-6, EosTokenId = 298, PadTokenId = 298, MaskTokenId = 299, Rope = true,
            QkNorm = family == ModelFamily.LladaMoe,
        };
        c = c.WithFamily(family);
        return family == ModelFamily.LladaMoe ? c with { Moe = MoeConfig.Create(2, experts: 8, topK: 2, expertHidden: 64) } : c;
    }
}
