using System.IO.Compression;
using System.Text.Json;
using Dllm.Text;

namespace Dllm.Tests.Text;

/// <summary>
/// The real Hugging Face tokenizers committed under tests/golden/hf/NAME (made by
/// scripts/goldens/make_tokenizer_goldens.mjs): <c>tokenizer.json.br</c> (Brotli, inflated here once per
/// test run into a temp model directory), the unchanged <c>tokenizer_config.json</c>, and
/// <c>encodings.json</c>, the reference ids.
/// </summary>
/// <remarks>Why compressed copies: no NuGet package ships these files, and the raw JSON is 7-11 MB each
/// (1.4-1.6 MB as Brotli, which .NET inflates without extra packages).</remarks>
internal static class RealTokenizers
{
    /// <summary>Names of the committed tokenizers.</summary>
    public static readonly string[] Names = ["qwen3", "llama3"];

    /// <summary>The mask id written into each model directory's config.json (past Qwen3's added tokens; a
    /// reserved Llama-3 special token).</summary>
    public static readonly Dictionary<string, int> MaskIds = new() { ["qwen3"] = 151669, ["llama3"] = 128255 };

    private static readonly Dictionary<string, Lazy<string>> Dirs = Names.ToDictionary(
        n => n, n => new Lazy<string>(() => Inflate(n)));

    private static readonly Dictionary<string, Lazy<ITokenizer>> Loaded = Names.ToDictionary(
        n => n, n => new Lazy<ITokenizer>(() => TokenizerLoader.Load(Dir(n))));

    /// <summary>A model directory holding the real tokenizer.json and tokenizer_config.json of <paramref name="name"/>.</summary>
    public static string Dir(string name) => Dirs[name].Value;

    /// <summary>The tokenizer of <paramref name="name"/>, loaded once through <see cref="TokenizerLoader"/>.</summary>
    public static ITokenizer Get(string name) => Loaded[name].Value;

    /// <summary>The reference cases of <paramref name="name"/>: text, ids, and the reference decode of the ids.</summary>
    public static IReadOnlyList<(string Text, int[] Ids, string Decoded)> Cases(string name)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("hf", name, "encodings.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (c.GetProperty("text").GetString()!,
                          c.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray(),
                          c.GetProperty("decoded").GetString()!))
            .ToList();
    }

    /// <summary>One theory row per (tokenizer, case index).</summary>
    public static TheoryData<string, int> AllCases()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in Names)
            for (int i = 0; i < Cases(name).Count; i++) data.Add(name, i);
        return data;
    }

    private static string Inflate(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "dllm-tests", "hf-" + name + "-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        using (FileStream src = File.OpenRead(TestPaths.Golden("hf", name, "tokenizer.json.br")))
        using (var brotli = new BrotliStream(src, CompressionMode.Decompress))
        using (FileStream dst = File.Create(Path.Combine(dir, "tokenizer.json")))
            brotli.CopyTo(dst);
        File.Copy(TestPaths.Golden("hf", name, "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"));
        // These autoregressive tokenizers name no mask; a diffusion model directory gives it in config.json.
        File.WriteAllText(Path.Combine(dir, "config.json"), $"{{\"mask_token_id\": {MaskIds[name]}}}");
        return dir;
    }
}
