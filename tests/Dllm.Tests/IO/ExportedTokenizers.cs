using Dllm.IO;
using Dllm.Model;
using Dllm.Tests.Text;

namespace Dllm.Tests.IO;

/// <summary>
/// GGUF files exported (once per test run) from tiny random LLaDA checkpoints that carry the real Llama-3 and Qwen3
/// tokenizers of tests/golden/hf (their embedding sized to the tokenizer: 128256 and 151936 rows, as in the released
/// models, so Qwen3's file has unused padding ids), and from the bundled byte-tokenizer model models/chat-1m.
/// </summary>
internal static class ExportedTokenizers
{
    /// <summary>The exported tokenizers: the two real ones and the byte tokenizer ("chat-1m").</summary>
    public static readonly string[] Names = [.. RealTokenizers.Names, "chat-1m"];

    private static readonly Dictionary<string, (int Rows, int Eos)> Shapes = new()
    {
        ["llama3"] = (128256, 128001), // <|end_of_text|>, tokenizer_config.json's eos_token
        ["qwen3"] = (151936, 151645),  // <|im_end|>
    };

    private static readonly Dictionary<string, Lazy<(string Dir, string Gguf)>> Exports =
        Names.ToDictionary(n => n, n => new Lazy<(string, string)>(() => Export(n)));

    /// <summary>The checkpoint directory whose tokenizer.json path is the reference.</summary>
    public static string Dir(string name) => Exports[name].Value.Dir;

    /// <summary>The exported GGUF file.</summary>
    public static string Gguf(string name) => Exports[name].Value.Gguf;

    /// <summary>Texts to encode: every golden case of the real tokenizers, plus special tokens written in text,
    /// non-special added tokens, scripts, emoji sequences, digits, whitespace runs and contractions.</summary>
    public static IReadOnlyList<string> Texts(string name)
    {
        var texts = new List<string>
        {
            "", "Hello, world!", "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|endoftext|>",
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>",
            "<|im_start|>user\nWhat is 12345 * 6789?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
            "<tool_call>{\"name\": \"f\"}</tool_call> <|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>",
            "naïve café — Ünïcödé: 日本語のテキスト, 한국어, Ελληνικά, עברית, العربية, हिन्दी",
            "emoji 🎉👩‍👩‍👧‍👦 🇫🇷 ✨ flags and ZWJ", "  leading spaces\n\n\n\ttabs\r\n and trailing   ",
            "don't I'LL we've THEY'RE it's", "1 12 123 1234 12345678901 3.14159 1,000,000", "<|mdm_mask|><|mdm_mask|>x<|mask|>",
            "a\u0301 e\u0301 combining marks (not NFC)", "\u00a0non-breaking\u2003em space\u200bzero width",
        };
        if (RealTokenizers.Names.Contains(name)) texts.AddRange(RealTokenizers.Cases(name).Select(c => c.Text));
        return texts;
    }

    private static (string, string) Export(string name)
    {
        string dir = name == "chat-1m" ? TestPaths.BundledModel() : RealCheckpoint(name);
        string gguf = Path.Combine(TestPaths.TempDir(), name + ".gguf");
        GgufExport.Write(dir, gguf);
        return (dir, gguf);
    }

    // A random LLaDA of width 32 with the real tokenizer's files and its mask id in config.json.
    private static string RealCheckpoint(string name)
    {
        var (rows, eos) = Shapes[name];
        ModelConfig c = RandomCheckpoint.Family(ModelFamily.Llada, d: 32, hidden: 32) with
        {
            VocabSize = rows, EmbeddingSize = rows, EosTokenId = eos, PadTokenId = eos, MaskTokenId = RealTokenizers.MaskIds[name],
        };
        string dir = RandomCheckpoint.Write(c);
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(RealTokenizers.Dir(name), file), Path.Combine(dir, file));
        return dir;
    }
}
