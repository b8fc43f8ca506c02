using Dllm.IO;
using Dllm.Model;
using Dllm.Tensors;
using Dllm.Text;

namespace Dllm.Tests.Cli;

/// <summary>
/// The text path end to end: a checkpoint written by our own writer (config.json, bf16
/// model.safetensors, a byte-level tokenizer.json), loaded back and run through
/// `dllm generate --prompt` with the chat template.
/// </summary>
public class TextPromptTests
{
    /// <summary>Writes a random 2-layer bf16 LLaDA with the byte tokenizer (vocab 262, context 128) to a fresh temp dir.</summary>
    internal static string WriteRandomByteModel()
    {
        string dir = TestPaths.TempDir();
        var config = new ModelConfig
        {
            DModel = 32, NHeads = 4, NKvHeads = 2, NLayers = 2, MlpHiddenSize = 64, VocabSize = 262, EmbeddingSize = 262,
            MaxSequenceLength = 128, RopeTheta = 10000, EosTokenId = ByteTokenizer.Eos, PadTokenId = ByteTokenizer.Eos,
            MaskTokenId = ByteTokenizer.Mask, WeightTying = false, Rope = true,
        };
        config.Save(Path.Combine(dir, "config.json"));
        var rng = new Random(11);
        var entries = new List<SafeTensorsWriter.Entry>();
        void Add(string name, params long[] shape)
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            float[] data = name.EndsWith("norm.weight") || name.Contains("ln_f")
                ? Enumerable.Repeat(1f, (int)n).ToArray()
                : Enumerable.Range(0, (int)n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 0.3f).ToArray();
            entries.Add(SafeTensorsWriter.Entry.FromSingle(name, shape, data, DType.BF16));
        }
        string p = "model.transformer.";
        Add(p + "wte.weight", 262, 32);
        for (int i = 0; i < 2; i++)
        {
            string b = $"{p}blocks.{i}.";
            Add(b + "attn_norm.weight", 32); Add(b + "ff_norm.weight", 32);
            Add(b + "q_proj.weight", 32, 32); Add(b + "k_proj.weight", 16, 32); Add(b + "v_proj.weight", 16, 32);
            Add(b + "attn_out.weight", 32, 32);
            Add(b + "ff_proj.weight", 64, 32); Add(b + "up_proj.weight", 64, 32); Add(b + "ff_out.weight", 32, 64);
        }
        Add(p + "ln_f.weight", 32);
        Add(p + "ff_out.weight", 262, 32);
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), entries);
        new ByteTokenizer().SaveTokenizerJson(Path.Combine(dir, "tokenizer.json"));
        return dir;
    }

    [Fact]
    public void WrittenCheckpointLoadsAndAnswersATextPrompt()
    {
        string dir = WriteRandomByteModel();
        using (Transformer lm = Transformer.Load(dir))
        {
            Assert.Equal(262, lm.VocabSize);
            Assert.Equal(DType.BF16, lm.Weights.Blocks[0].Q.DType);
        }
        string[] args = ["generate", "--model", dir, "--prompt", "Hello there", "--gen-length", "16", "--steps", "8", "--block-length", "8", "--output", "ids"];
        var (code, output, err) = CliTests.Run(args);
        Assert.True(code == 0, err);
        int[] ids = output.Trim().Split(',').Select(int.Parse).ToArray();
        Assert.Equal(16, ids.Length);
        Assert.DoesNotContain(ByteTokenizer.Mask, ids);

        // Text output: decoding strips the EOS tail and special tokens and never fails.
        args[^1] = "text";
        var (textCode, decoded, _) = CliTests.Run(args);
        Assert.Equal(0, textCode);
        Assert.DoesNotContain("<|endoftext|>", decoded);
        Assert.DoesNotContain("<|mdm_mask|>", decoded);
    }
}
