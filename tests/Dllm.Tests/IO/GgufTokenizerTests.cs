using Dllm.IO;
using Dllm.Text;

namespace Dllm.Tests.IO;

/// <summary>
/// A checkpoint's tokenizer written into a GGUF by <see cref="GgufExport"/> and read back by
/// <see cref="TokenizerLoader"/> encodes, decodes and frames chats exactly as the tokenizer.json it came from; bad
/// tokenizer metadata is one error line naming the key.
/// </summary>
public class GgufTokenizerTests
{
    public static TheoryData<string> Names => [.. ExportedTokenizers.Names];

    [Theory]
    [MemberData(nameof(Names))]
    public void Gguf_tokenizer_encodes_as_the_tokenizer_json(string name)
    {
        ITokenizer reference = TokenizerLoader.Load(ExportedTokenizers.Dir(name));
        ITokenizer gguf = TokenizerLoader.Load(ExportedTokenizers.Gguf(name));
        foreach (string text in ExportedTokenizers.Texts(name))
        {
            IReadOnlyList<int> ids = reference.Encode(text);
            Assert.True(ids.SequenceEqual(gguf.Encode(text)), $"{name}: \"{text}\" → [{string.Join(' ', ids)}] vs [{string.Join(' ', gguf.Encode(text))}]");
            Assert.Equal(reference.Decode(ids), gguf.Decode(ids));
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Gguf_tokenizer_keeps_special_ids_and_chat_template(string name)
    {
        ITokenizer reference = TokenizerLoader.Load(ExportedTokenizers.Dir(name));
        ITokenizer gguf = TokenizerLoader.Load(ExportedTokenizers.Gguf(name));
        Assert.Equal(reference.BosId, gguf.BosId);
        Assert.Equal(reference.EosId, gguf.EosId);
        Assert.Equal(reference.MaskId, gguf.MaskId);
        Assert.Equal(reference.EndOfTurnId, gguf.EndOfTurnId);
        Assert.Equal(reference.ModelTemplate is null, gguf.ModelTemplate is null);
        ChatMessage[] chat = [new("system", "Be brief."), new("user", "Hi, ünïcode 🎉?")];
        Assert.Equal(ChatTemplate.Render(reference, chat), ChatTemplate.Render(gguf, chat));
        Assert.Equal(ChatTemplate.Apply(reference, chat), ChatTemplate.Apply(gguf, chat));
        // Ids the tokenizer leaves empty (Qwen3's padding rows) are unknown to both.
        for (int id = reference.VocabSize; id < gguf.VocabSize; id++) Assert.Null(gguf.IdToToken(id));
    }

    [Fact]
    public void A_checkpoint_without_a_tokenizer_gets_the_placeholder_which_loading_refuses()
    {
        string path = Path.Combine(TestPaths.TempDir(), "t.gguf");
        string note = GgufExport.Write(TestPaths.Golden("tiny-f32"), path);
        Assert.Contains("placeholder", note);
        var e = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));
        Assert.Contains("carries no tokenizer", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    public static TheoryData<string, string> Unwritable => new()
    {
        { """{"type": "Split", "pattern": {"Regex": "\\p{L}+"}, "behavior": "Isolated"}""", "not one llama.cpp knows by name" },
        { """{"type": "ByteLevel", "add_prefix_space": false}""", "ids up to 200, past the embedding's 97 rows" },
    };

    [Theory]
    [MemberData(nameof(Unwritable))]
    public void A_tokenizer_gguf_cannot_carry_gets_the_placeholder_and_says_why(string preTokenizer, string why)
    {
        string dir = TestPaths.TempDir();
        foreach (string f in new[] { "config.json", "model.safetensors" }) File.Copy(TestPaths.Golden("tiny-f32", f), Path.Combine(dir, f));
        int high = why.Contains("200") ? 200 : 4;
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), $$$"""
            {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
             "added_tokens": [{"id": 3, "content": "<|endoftext|>", "special": true}, {"id": {{{high}}}, "content": "<|mdm_mask|>", "special": true}],
             "pre_tokenizer": {{{preTokenizer}}}, "decoder": {"type": "ByteLevel"}}
            """);
        Assert.Equal([2, 3], TokenizerLoader.Load(dir).Encode("ab<|endoftext|>")); // Dllm reads it
        string note = GgufExport.Write(dir, Path.Combine(dir, "m.gguf"));
        Assert.Contains("placeholder", note);
        Assert.Contains(why, note);
    }

    public static TheoryData<string, string, string> BadMetadata => new()
    {
        { "no-model", "tokenizer.ggml.model", "is missing" },
        { "sentencepiece", "tokenizer.ggml.model", "'llama' is not supported" },
        { "no-merges", "tokenizer.ggml.merges", "is missing" },
        { "bad-merge", "tokenizer.ggml.merges", "entry 0 \"ab\"" },
        { "int-tokens", "tokenizer.ggml.tokens", "must be an array of strings" },
        { "short-types", "tokenizer.ggml.token_type", "has 2 entries for 4 tokens" },
        { "bad-type", "tokenizer.ggml.token_type", "entry 1 is 9" },
        { "eos-range", "tokenizer.ggml.eos_token_id", "= 7 is outside the 4 tokens" },
        { "eos-type", "tokenizer.ggml.eos_token_id", "must be an integer" },
        { "unknown-pre", "tokenizer.ggml.pre", "'mystery' is not a pre-tokenizer" },
    };

    [Theory]
    [MemberData(nameof(BadMetadata))]
    public void Bad_tokenizer_metadata_is_one_line_naming_the_key(string kind, string key, string message)
    {
        var g = new GgufWriter();
        g.AddString("general.architecture", "llada");
        if (kind != "no-model") g.AddString("tokenizer.ggml.model", kind == "sentencepiece" ? "llama" : "gpt2");
        if (kind == "int-tokens") g.AddInt32Array("tokenizer.ggml.tokens", [1, 2, 3, 4]);
        else g.AddStringArray("tokenizer.ggml.tokens", ["a", "b", "ab", "<|endoftext|>"]);
        g.AddInt32Array("tokenizer.ggml.token_type", kind switch { "short-types" => [1, 1], "bad-type" => [1, 9, 1, 3], _ => [1, 1, 1, 3] });
        if (kind != "no-merges") g.AddStringArray("tokenizer.ggml.merges", [kind == "bad-merge" ? "ab" : "a b"]);
        if (kind == "eos-type") g.AddString("tokenizer.ggml.eos_token_id", "3");
        else g.AddUInt32("tokenizer.ggml.eos_token_id", kind == "eos-range" ? 7u : 3u);
        g.AddString("tokenizer.ggml.pre", kind == "unknown-pre" ? "mystery" : "gpt-2");
        string path = Path.Combine(TestPaths.TempDir(), kind + ".gguf");
        g.Write(path);

        Exception e = Assert.ThrowsAny<Exception>(() => TokenizerLoader.Load(path, new TokenizerOptions { MaskId = 3 }));
        Assert.True(e is InvalidDataException or NotSupportedException, e.ToString());
        Assert.Contains(key, e.Message);
        Assert.Contains(message, e.Message);
        Assert.StartsWith(path, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_minimal_gpt2_tokenizer_loads_and_merges()
    {
        var g = new GgufWriter();
        g.AddString("tokenizer.ggml.model", "gpt2")
         .AddString("tokenizer.ggml.pre", "gpt-2")
         .AddStringArray("tokenizer.ggml.tokens", ["a", "b", "ab", "<|endoftext|>", "[PAD4]"])
         .AddInt32Array("tokenizer.ggml.token_type", [1, 1, 1, 3, 5])
         .AddStringArray("tokenizer.ggml.merges", ["a b"])
         .AddUInt32("tokenizer.ggml.eos_token_id", 3);
        string path = Path.Combine(TestPaths.TempDir(), "mini.gguf");
        g.Write(path);
        ITokenizer t = TokenizerLoader.Load(path, new TokenizerOptions { MaskId = 3 });
        Assert.Equal([2, 0, 3, 1], t.Encode("aba<|endoftext|>b"));
        Assert.Equal(3, t.EosId);
        Assert.Null(t.BosId);
        Assert.Null(t.IdToToken(4)); // unused padding is not a token
        Assert.Equal("ab\uFFFD", t.Decode([2, 4]));
    }
}
