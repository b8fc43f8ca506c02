using System.Text;
using Dllm.Text;
using Xunit;

namespace Dllm.Tests.Text;

public class ByteTokenizerTests
{
    private static readonly ByteTokenizer Tok = new();

    [Fact]
    public void Layout_is_bytes_then_llada_specials()
    {
        Assert.Equal(262, Tok.VocabSize);
        Assert.Equal(256, Tok.BosId);
        Assert.Equal(257, Tok.EosId);
        Assert.Equal(258, Tok.MaskId);
        Assert.Equal(259, Tok.TokenToId("<|start_header_id|>"));
        Assert.Equal(260, Tok.TokenToId("<|end_header_id|>"));
        Assert.Equal(261, Tok.TokenToId("<|eot_id|>"));
        Assert.Equal("<|mdm_mask|>", Tok.IdToToken(258));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Hello, world!")]
    [InlineData("line\nbreaks\r\n\ttabs")]
    [InlineData("café 中文 😀👍🏽")]
    [InlineData("<|eot_id|> inside <|mdm_mask|>text")]
    public void Round_trips(string text)
    {
        Assert.Equal(text, Tok.Decode(Tok.Encode(text)));
    }

    [Fact]
    public void Encodes_utf8_bytes_and_whole_specials()
    {
        Assert.Equal([104, 105], Tok.Encode("hi"));
        Assert.Equal([0xC3, 0xA9], Tok.Encode("é"));
        Assert.Equal([259, 117, 115, 101, 114, 260], Tok.Encode("<|start_header_id|>user<|end_header_id|>"));
        Assert.Equal([(int)'<', (int)'|', (int)'x', (int)'|', (int)'>'], Tok.Encode("<|x|>"));
    }

    [Fact]
    public void Invalid_utf8_decodes_to_replacement_characters_without_throwing()
    {
        Assert.Equal("\uFFFD", Tok.Decode([0xE4, 0xB8])); // first two bytes of a 3-byte character
        Assert.Equal("a\uFFFDb", Tok.Decode([97, 0xFF, 98]));
        Assert.Equal("\uFFFD\uFFFD", Tok.Decode([0x80, 0x80])); // lone continuation bytes
        Assert.Equal("\uFFFD", Tok.Decode([9999]));
        Assert.Equal("\uFFFD", Tok.Decode([-5]));
    }

    [Fact]
    public void Random_byte_sequences_never_throw()
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int[] ids = Enumerable.Range(0, rng.Next(20)).Select(_ => rng.Next(262)).ToArray();
            string s = Tok.Decode(ids);
            Assert.NotNull(s);
        }
    }

    [Fact]
    public void Decode_can_skip_special_tokens()
    {
        int[] ids = [256, 104, 105, 261, 257, 258];
        Assert.Equal("<|startoftext|>hi<|eot_id|><|endoftext|><|mdm_mask|>", Tok.Decode(ids));
        Assert.Equal("hi", Tok.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Token_spellings()
    {
        Assert.Equal("a", Tok.IdToToken(97));
        Assert.Equal("<0x20>", Tok.IdToToken(32));
        Assert.Equal("<0xFF>", Tok.IdToToken(255));
        Assert.Equal(97, Tok.TokenToId("a"));
        Assert.Equal(255, Tok.TokenToId("<0xFF>"));
        Assert.Equal(32, Tok.TokenToId(" "));
        Assert.Null(Tok.TokenToId("ab"));
        Assert.Null(Tok.IdToToken(262));
    }

    [Fact]
    public void Saved_descriptor_loads_back_as_byte_tokenizer()
    {
        string dir = TestPaths.TempDir();
        Tok.SaveTokenizerJson(Path.Combine(dir, "tokenizer.json"));
        ITokenizer loaded = TokenizerLoader.Load(dir);
        Assert.IsType<ByteTokenizer>(loaded);
        Assert.Contains("\"dllm_tokenizer\": \"byte\"", File.ReadAllText(Path.Combine(dir, "tokenizer.json")));
    }

    [Fact]
    public void Descriptor_with_a_different_layout_is_rejected()
    {
        string dir = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"),
            """{"dllm_tokenizer": "byte", "version": 1, "added_tokens": [{"id": 256, "content": "<|eot_id|>", "special": true}]}""");
        Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(dir));
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), """{"dllm_tokenizer": "byte", "version": 99}""");
        Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(dir));
    }
}
