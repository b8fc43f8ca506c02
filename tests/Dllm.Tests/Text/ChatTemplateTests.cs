using Dllm.Text;
using Xunit;

namespace Dllm.Tests.Text;

public class ChatTemplateTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new("system", "You are a helpful assistant."),
        new("user", "  What is the capital of France?\n"),   // trimmed by the template
        new("assistant", "Paris."),
        new("user", "And of Italy?"),
    ];

    [Fact]
    public void Render_matches_the_llada_template()
    {
        string expected =
            "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n";
        Assert.Equal(expected, ChatTemplate.Render([new ChatMessage("user", " Hi ")], addGenerationPrompt: true));
        Assert.Equal("<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
            ChatTemplate.Render([new ChatMessage("user", "Hi")], addGenerationPrompt: false));
    }

    [Fact]
    public void Apply_on_bpe_equals_reference_encoding_of_rendered_chat()
    {
        string rendered = ChatTemplate.Render(Conversation, addGenerationPrompt: true);
        var golden = GoldenTokenizer.Cases.Single(c => c.Text == rendered);
        Assert.Equal(golden.Ids, ChatTemplate.Apply(GoldenTokenizer.Tokenizer, Conversation));
    }

    [Fact]
    public void Apply_on_byte_tokenizer_equals_hand_built_ids()
    {
        static IEnumerable<int> B(string s) => System.Text.Encoding.UTF8.GetBytes(s).Select(b => (int)b);
        var expected = new List<int> { 256 };
        expected.Add(259); expected.AddRange(B("user")); expected.Add(260); expected.AddRange(B("\n\nHi")); expected.Add(261);
        expected.Add(259); expected.AddRange(B("assistant")); expected.Add(260); expected.AddRange(B("\n\nHello!")); expected.Add(261);
        expected.Add(259); expected.AddRange(B("assistant")); expected.Add(260); expected.AddRange(B("\n\n"));

        var ids = ChatTemplate.Apply(new ByteTokenizer(), [new("user", "Hi\n"), new("assistant", "Hello!")]);
        Assert.Equal(expected, ids);
    }

    [Fact]
    public void Without_generation_prompt_ends_with_eot()
    {
        var tok = new ByteTokenizer();
        var ids = ChatTemplate.Apply(tok, [new("user", "Hi")], addGenerationPrompt: false);
        Assert.Equal(ByteTokenizer.EndOfTurn, ids[^1]);
        Assert.Equal([256], ChatTemplate.Apply(tok, [], addGenerationPrompt: false));
    }

    [Fact]
    public void Tokenizer_without_chat_tokens_is_an_error()
    {
        var e = Assert.Throws<InvalidDataException>(() => ChatTemplate.Apply(new NoHeaders(), [new("user", "x")]));
        Assert.Contains("<|start_header_id|>", e.Message);
    }

    [Fact]
    public void Null_content_is_rejected()
    {
        Assert.Throws<ArgumentNullException>(() => ChatTemplate.Apply(new ByteTokenizer(), [new("user", null!)]));
    }

    /// <summary>A byte tokenizer that knows no chat header tokens.</summary>
    private sealed class NoHeaders : ITokenizer
    {
        private readonly ByteTokenizer _inner = new();
        public int VocabSize => 259;
        public IReadOnlyList<int> Encode(string text) => _inner.Encode(text);
        public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) => _inner.Decode(ids, skipSpecialTokens);
        public int? BosId => 256;
        public int EosId => 257;
        public int MaskId => 258;
        public int? TokenToId(string token) => token.StartsWith("<|s", StringComparison.Ordinal) || token.StartsWith("<|e", StringComparison.Ordinal) ? null : _inner.TokenToId(token);
        public string? IdToToken(int id) => id < 259 ? _inner.IdToToken(id) : null;
    }
}
