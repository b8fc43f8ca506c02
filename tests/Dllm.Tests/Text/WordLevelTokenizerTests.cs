using System.Text.Json;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Tests.Text;

/// <summary>WordLevelTokenizer: vocabulary building, HF Whitespace splitting, UNK, HF tokenizer.json round trip, bad files named.</summary>
public class WordLevelTokenizerTests
{
    private static readonly string[] Texts = ["Alice gives Bob 3 apples.", "Bob gives Carol 12 pears!", "Alice, Bob & Carol"];

    private static string TempFile(string name, string text)
    {
        string path = Path.Combine(TestPaths.TempDir(), name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void BuildNumbersUnkAndSpecialsFirstThenWordsByFrequency()
    {
        var tok = WordLevelTokenizer.Build(Texts);
        Assert.Equal(0, tok.TokenToId("[UNK]"));
        Assert.Equal(1, tok.BosId);
        Assert.Equal(2, tok.EosId);
        Assert.Equal(3, tok.MaskId);
        Assert.Equal(tok.TokenToId(LladaTokens.EndOfTurn), ((ITokenizer)tok).EndOfTurnId);
        Assert.Equal(7, tok.TokenToId("Bob")); // 3 times: the most frequent word
        Assert.NotNull(tok.TokenToId("12"));
        Assert.NotNull(tok.TokenToId("&"));
        // 7 fixed + Alice Bob Carol gives 3 apples . 12 pears ! , & = 19
        Assert.Equal(19, tok.VocabSize);
        Assert.Equal(Enumerable.Range(0, tok.VocabSize), Enumerable.Range(0, tok.VocabSize).Select(i => tok.TokenToId(tok.IdToToken(i)!)!.Value));
    }

    [Fact]
    public void SplitsLikeHfWhitespaceAndUnseenWordsAreUnk()
    {
        Assert.Equal(["Hello", ",", "world", "!?", "x_1", "42"], WordLevelTokenizer.SplitWords("Hello, world!? x_1 42"));
        var tok = WordLevelTokenizer.Build(Texts);
        IReadOnlyList<int> ids = tok.Encode("Alice gives Dave 3 apples.");
        Assert.Equal(6, ids.Count);
        Assert.Equal(tok.UnknownId, ids[2]);
        Assert.Equal("Alice gives [UNK] 3 apples .", tok.Decode(ids));
        Assert.Empty(tok.Encode(""));
    }

    [Fact]
    public void SpecialTokensAreWholeAndSkippable()
    {
        var tok = WordLevelTokenizer.Build(Texts);
        IReadOnlyList<int> ids = tok.Encode("<|start_header_id|>Bob<|end_header_id|>\n\nAlice<|eot_id|><|endoftext|>");
        Assert.Equal([4, tok.TokenToId("Bob")!.Value, 5, tok.TokenToId("Alice")!.Value, 6, 2], ids);
        Assert.Equal("Bob Alice", tok.Decode(ids, skipSpecialTokens: true));
        Assert.Equal("<|start_header_id|> Bob <|end_header_id|> Alice <|eot_id|> <|endoftext|>", tok.Decode(ids));
        Assert.Equal("Bob \uFFFD", tok.Decode([tok.TokenToId("Bob")!.Value, 999]));
        Assert.Null(tok.IdToToken(-1));
    }

    [Fact]
    public void BuildHonoursMinCountAndMaxVocab()
    {
        var tok = WordLevelTokenizer.Build(Texts, minCount: 2);
        Assert.Null(tok.TokenToId("pears"));
        Assert.NotNull(tok.TokenToId("Alice"));
        var small = WordLevelTokenizer.Build(Texts, maxVocab: 9);
        Assert.Equal(9, small.VocabSize);
        Assert.Throws<ArgumentOutOfRangeException>(() => WordLevelTokenizer.Build(Texts, maxVocab: 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => WordLevelTokenizer.Build(Texts, minCount: 0));
    }

    [Fact]
    public void SaveThenTokenizerLoaderGivesTheSameIds()
    {
        var tok = WordLevelTokenizer.Build(Texts);
        string dir = TestPaths.TempDir();
        tok.SaveTokenizerJson(Path.Combine(dir, "tokenizer.json"));
        ITokenizer loaded = TokenizerLoader.Load(dir);
        var word = Assert.IsType<WordLevelTokenizer>(loaded);
        Assert.Equal(tok.VocabSize, word.VocabSize);
        string text = "<|startoftext|>Alice gives Zed 12 pears!<|eot_id|>";
        Assert.Equal(tok.Encode(text), loaded.Encode(text));
        Assert.Equal(word.UnknownId, loaded.Encode("Zed")[0]);
        Assert.Equal((tok.BosId, tok.EosId, tok.MaskId), (loaded.BosId, loaded.EosId, loaded.MaskId));
        Assert.Equal(tok.Decode(tok.Encode(text), true), loaded.Decode(loaded.Encode(text), true));
    }

    [Fact]
    public void SavedFileHasTheHuggingFaceShape()
    {
        string path = Path.Combine(TestPaths.TempDir(), "tokenizer.json");
        WordLevelTokenizer.Build(Texts).SaveTokenizerJson(path);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        JsonElement root = doc.RootElement;
        JsonElement model = root.GetProperty("model");
        Assert.Equal("WordLevel", model.GetProperty("type").GetString());
        Assert.Equal("[UNK]", model.GetProperty("unk_token").GetString());
        Assert.Equal(7, model.GetProperty("vocab").GetProperty("Bob").GetInt32());
        Assert.Equal("Whitespace", root.GetProperty("pre_tokenizer").GetProperty("type").GetString());
        JsonElement[] added = root.GetProperty("added_tokens").EnumerateArray().ToArray();
        Assert.Equal(WordLevelTokenizer.SpecialTokens, added.Select(a => a.GetProperty("content").GetString()));
        Assert.All(added, a => Assert.True(a.GetProperty("special").GetBoolean()));
        Assert.Equal([1, 2, 3, 4, 5, 6], added.Select(a => a.GetProperty("id").GetInt32()));
        Assert.Contains("\"<|mdm_mask|>\"", File.ReadAllText(path)); // readable, not \u003C-escaped
    }

    private const string Added = """
        "added_tokens": [
          {"id": 1, "content": "<|startoftext|>", "special": true},
          {"id": 2, "content": "<|endoftext|>", "special": true},
          {"id": 3, "content": "<|mdm_mask|>", "special": true}
        ]
        """;

    [Theory]
    [InlineData("""{"model": {"type": "WordLevel", "unk_token": "[UNK]"}}""", "model.vocab is missing")]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {}, "unk_token": "[UNK]"}}""", "model.vocab is empty")]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "a": 0}, "unk_token": "[UNK]"}}""", "model.vocab gives id 0 to both \"[UNK]\" and \"a\"")]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "a": 7}, "unk_token": "[UNK]"}}""", "model.vocab[\"a\"] = 7 is out of range 0..1")]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "a": "x"}, "unk_token": "[UNK]"}}""", "model.vocab[\"a\"] is \"x\", not an integer id")]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {"[UNK]": 0}}, ADDED}""", "model.unk_token is missing")]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "[UNK]"}, ADDED}""", "model.unk_token \"[UNK]\" is not in model.vocab")]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}}""", "added_tokens has no <|startoftext|>")]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}, "added_tokens": [{"id": 5, "content": "<|endoftext|>"}]}""", "added_tokens[0] id 5 of \"<|endoftext|>\" is out of range")]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "b": 1}, "unk_token": "[UNK]"}, "added_tokens": [{"id": 1, "content": "<|endoftext|>"}]}""", "added_tokens[0] gives id 1 to \"<|endoftext|>\", which model.vocab gives to \"b\"")]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}, "added_tokens": [{"content": "x"}]}""", "added_tokens[0] must be an object")]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "a": 1,}, "unk_token": "[UNK]" """, "tokenizer.json")]
    public void BadFilesAreNamed(string json, string message)
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(path, json.Replace("ADDED", Added));
        var e = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(dir));
        Assert.Contains(path, e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void AddedTokensMayExtendTheVocabulary()
    {
        string dir = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"),
            """{"model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "hi": 1}, "unk_token": "[UNK]"}, "added_tokens": [{"id": 2, "content": "<|startoftext|>", "special": true}, {"id": 3, "content": "<|endoftext|>", "special": true}, {"id": 4, "content": "<|mdm_mask|>", "special": true}]}""");
        ITokenizer tok = TokenizerLoader.Load(dir);
        Assert.Equal(5, tok.VocabSize);
        Assert.Equal([1, 3, 0], tok.Encode("hi<|endoftext|>there"));
        Assert.Null(tok.EndOfTurnId);
    }

    [Fact]
    public void ReadTextsGivesTheDocumentsOfPlainAndJsonlFiles()
    {
        string txt = TempFile("a.txt", "one two");
        string jsonl = TempFile("b.jsonl", "{\"text\": \"three\"}\n\n{\"text\": \"four five\"}\n");
        Assert.Equal(["one two", "three", "four five"], TextCorpus.ReadTexts([txt, jsonl]));
    }
}
