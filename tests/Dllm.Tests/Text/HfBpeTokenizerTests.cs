using System.Text;
using System.Text.Json.Nodes;
using Dllm.Text;
using Xunit;

namespace Dllm.Tests.Text;

public class HfBpeTokenizerTests
{
    private static HfBpeTokenizer Tok => GoldenTokenizer.Tokenizer;

    [Theory]
    [MemberData(nameof(GoldenTokenizer.CaseIndices), MemberType = typeof(GoldenTokenizer))]
    public void Encode_matches_reference_implementation(int index)
    {
        var (text, expected) = GoldenTokenizer.Cases[index];
        Assert.Equal(expected, Tok.Encode(text));
    }

    [Theory]
    [MemberData(nameof(GoldenTokenizer.CaseIndices), MemberType = typeof(GoldenTokenizer))]
    public void Decode_inverts_encode_on_golden_cases(int index)
    {
        string text = GoldenTokenizer.Cases[index].Text;
        Assert.Equal(text, Tok.Decode(Tok.Encode(text)));
    }

    [Fact]
    public void Decode_inverts_encode_on_random_strings()
    {
        // Seeded random strings over a mix of ASCII, whitespace, accents, CJK, emoji and special-token text.
        string[] atoms =
        [
            "a", "b", "e", "the", "The", " ", "  ", "\n", "\r\n", "\t", "'s", "'LL", "0", "42", "1234567",
            ".", ",", "!?", "#", "é", "ß", "中", "文", "😀", "👍🏽", "<|eot_id|>", "<|mdm_mask|>", "<|", "|>", "\u00a0",
        ];
        var rng = new Random(12345);
        for (int trial = 0; trial < 300; trial++)
        {
            var sb = new StringBuilder();
            int n = rng.Next(0, 12);
            for (int i = 0; i < n; i++) sb.Append(atoms[rng.Next(atoms.Length)]);
            string s = sb.ToString();
            IReadOnlyList<int> ids = Tok.Encode(s);
            Assert.All(ids, id => Assert.InRange(id, 0, Tok.VocabSize - 1));
            Assert.Equal(s, Tok.Decode(ids));
        }
    }

    [Fact]
    public void Special_tokens_are_kept_whole()
    {
        int sh = GoldenTokenizer.SpecialId(LladaTokens.StartHeader);
        int eh = GoldenTokenizer.SpecialId(LladaTokens.EndHeader);
        // The tiny test vocabulary has no single "user" token (LLaDA's has), so compare with its plain encoding.
        IReadOnlyList<int> user = Tok.Encode("user");
        Assert.DoesNotContain(sh, user);
        Assert.Equal([sh, .. user, eh], Tok.Encode("<|start_header_id|>user<|end_header_id|>"));
        Assert.Equal([sh, sh, .. user], Tok.Encode("<|start_header_id|><|start_header_id|>user"));
        Assert.Equal(sh, Tok.TokenToId(LladaTokens.StartHeader));
        Assert.Equal(LladaTokens.EndHeader, Tok.IdToToken(eh));
        Assert.True(Tok.IsSpecial(eh));
        Assert.False(Tok.IsSpecial(user[0]));
    }

    [Fact]
    public void Default_special_ids_come_from_added_tokens()
    {
        Assert.Equal(GoldenTokenizer.SpecialId(LladaTokens.EndOfText), Tok.EosId);
        Assert.Equal(GoldenTokenizer.SpecialId(LladaTokens.Mask), Tok.MaskId);
        Assert.Equal(GoldenTokenizer.SpecialId(LladaTokens.StartOfText), Tok.BosId);
        int maxSpecial = GoldenTokenizer.SpecialId(LladaTokens.Mask);
        Assert.Equal(maxSpecial + 1, Tok.VocabSize);
    }

    [Fact]
    public void Explicit_special_ids_override_defaults()
    {
        var tok = HfBpeTokenizer.Load(GoldenTokenizer.JsonPath, eosId: 5, maskId: 6, bosId: 7);
        Assert.Equal((5, 6, 7), (tok.EosId, tok.MaskId, tok.BosId!.Value));
    }

    [Fact]
    public void Decode_writes_or_skips_special_tokens()
    {
        int eos = Tok.EosId;
        var ids = Tok.Encode("Hello").Concat([eos, Tok.MaskId]).ToList();
        Assert.Equal("Hello<|endoftext|><|mdm_mask|>", Tok.Decode(ids));
        Assert.Equal("Hello", Tok.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Decode_of_partial_utf8_and_unknown_ids_gives_replacement_characters()
    {
        IReadOnlyList<int> emoji = Tok.Encode("😀");
        Assert.True(emoji.Count > 1, "the test tokenizer has no merge for the emoji's 4 bytes");
        Assert.Equal("\uFFFD", Tok.Decode(emoji.Take(emoji.Count - 1)));
        Assert.Equal("a\uFFFDb", Tok.Decode([.. Tok.Encode("a"), 999_999, .. Tok.Encode("b")]));
        Assert.Equal("\uFFFD", Tok.Decode([-1]));
        Assert.Equal("", Tok.Decode([]));
    }

    [Fact]
    public void IdToToken_uses_byte_level_spelling()
    {
        int space = Assert.Single(Tok.Encode(" "));
        Assert.Equal("Ġ", Tok.IdToToken(space));
        Assert.Equal(space, Tok.TokenToId("Ġ"));
        Assert.Null(Tok.TokenToId("no such token"));
        Assert.Null(Tok.IdToToken(Tok.VocabSize));
    }

    [Fact]
    public void Merges_as_pairs_load_the_same_as_merges_as_strings()
    {
        JsonNode root = JsonNode.Parse(File.ReadAllText(GoldenTokenizer.JsonPath))!;
        JsonArray merges = root["model"]!["merges"]!.AsArray();
        var pairs = new JsonArray(merges.Select(m =>
        {
            string[] parts = m!.GetValue<string>().Split(' ');
            return (JsonNode)new JsonArray(parts[0], parts[1]);
        }).ToArray());
        root["model"]!["merges"] = pairs;
        string path = Path.Combine(TestPaths.TempDir(), "tokenizer.json");
        File.WriteAllText(path, root.ToJsonString());

        var tok = HfBpeTokenizer.Load(path);
        foreach (var (text, ids) in GoldenTokenizer.Cases) Assert.Equal(ids, tok.Encode(text));
    }

    [Theory]
    [InlineData("WordPiece")]
    [InlineData("Unigram")]
    public void Unsupported_model_type_is_named(string type)
    {
        string path = WriteTemp("{\"model\": {\"type\": \"" + type + "\", \"vocab\": {\"a\": 0}}}");
        var e = Assert.Throws<NotSupportedException>(() => HfBpeTokenizer.Load(path));
        Assert.Contains(type, e.Message);
    }

    [Fact]
    public void Malformed_json_names_the_file()
    {
        string path = WriteTemp("{\"model\": {\"type\": \"BPE\", ");
        var e = Assert.Throws<InvalidDataException>(() => HfBpeTokenizer.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Missing_fields_name_the_file()
    {
        string path = WriteTemp("""{"added_tokens": []}""");
        var e = Assert.Throws<InvalidDataException>(() => HfBpeTokenizer.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Missing_mask_token_is_reported_unless_given()
    {
        JsonNode root = JsonNode.Parse(File.ReadAllText(GoldenTokenizer.JsonPath))!;
        JsonArray added = root["added_tokens"]!.AsArray();
        added.Remove(added.First(t => t!["content"]!.GetValue<string>() == LladaTokens.Mask));
        string path = WriteTemp(root.ToJsonString());

        var e = Assert.Throws<InvalidDataException>(() => HfBpeTokenizer.Load(path));
        Assert.Contains(LladaTokens.Mask, e.Message);
        Assert.Equal(3, HfBpeTokenizer.Load(path, maskId: 3).MaskId);
    }

    [Fact]
    public void Non_byte_level_bpe_is_not_supported()
    {
        string path = WriteTemp("""{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}, "pre_tokenizer": {"type": "Metaspace"}}""");
        Assert.Throws<NotSupportedException>(() => HfBpeTokenizer.Load(path));
    }

    [Fact]
    public void Gpt2_style_byte_level_pre_tokenizer_with_prefix_space()
    {
        // ByteLevel(add_prefix_space=true, use_regex=true): "hi you" -> pieces " hi", " you".
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteChar(b)] = b;
        vocab["Ġh"] = 256;
        vocab["Ġhi"] = 257;
        var root = new JsonObject
        {
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray("Ġ h", "Ġh i") },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["use_regex"] = true },
            ["added_tokens"] = new JsonArray(
                new JsonObject { ["id"] = 258, ["content"] = "<|endoftext|>", ["special"] = true },
                new JsonObject { ["id"] = 259, ["content"] = "<|mdm_mask|>", ["special"] = true }),
        };
        var tok = HfBpeTokenizer.Load(WriteTemp(root.ToJsonString()));
        Assert.Equal([257, 257], tok.Encode("hi hi"));
        Assert.Null(tok.BosId);
    }

    [Theory]
    [InlineData(false, new[] { 256, 99 })] // merges only: "ab" + "c"
    [InlineData(true, new[] { 257 })]      // ignore_merges: the whole piece "abc" is in the vocabulary
    public void Ignore_merges_looks_up_whole_pieces_first(bool ignoreMerges, int[] expected)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteChar(b)] = b;
        vocab["ab"] = 256;
        vocab["abc"] = 257;
        var root = new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray("a b"), ["ignore_merges"] = ignoreMerges,
            },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false },
        };
        var tok = HfBpeTokenizer.Load(WriteTemp(root.ToJsonString()), eosId: 0, maskId: 1);
        Assert.Equal(expected, tok.Encode("abc"));
    }

    [Fact]
    public void Isolated_split_keeps_text_between_matches()
    {
        // A Split pattern that matches only digits: the letters between matches must still be encoded.
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteChar(b)] = b;
        vocab["ab"] = 256;
        vocab["b1"] = 257;
        var root = new JsonObject
        {
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray("b 1", "a b") },
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = @"\d" },
                        ["behavior"] = "Isolated", ["invert"] = false,
                    },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false }),
            },
        };
        var tok = HfBpeTokenizer.Load(WriteTemp(root.ToJsonString()), eosId: 0, maskId: 1);
        Assert.Equal([256, (int)'1', 256], tok.Encode("ab1ab")); // "b1" never forms: the digit is its own piece
        Assert.Equal("ab1ab", tok.Decode(tok.Encode("ab1ab")));
    }

    // GPT-2's byte-to-unicode mapping, written independently of the production code.
    private static string ByteChar(int b)
    {
        bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
        if (printable) return ((char)b).ToString();
        int n = 0;
        for (int x = 0; x < b; x++)
            if (!(x is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF)) n++;
        return ((char)(256 + n)).ToString();
    }

    private static string WriteTemp(string content)
    {
        string path = Path.Combine(TestPaths.TempDir(), "tokenizer.json");
        File.WriteAllText(path, content);
        return path;
    }
}
