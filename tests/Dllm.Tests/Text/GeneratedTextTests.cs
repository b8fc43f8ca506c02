using Dllm.Text;
using Xunit;

namespace Dllm.Tests.Text;

public class GeneratedTextTests
{
    [Fact]
    public void Cuts_at_first_eos_or_eot()
    {
        Assert.Equal([1, 2], GeneratedText.TrimAtEos([1, 2, 9, 3, 9], eosId: 9, eotId: 8));
        Assert.Equal([1], GeneratedText.TrimAtEos([1, 8, 9, 9], eosId: 9, eotId: 8));
        Assert.Equal([], GeneratedText.TrimAtEos([9, 1], eosId: 9, eotId: null));
        Assert.Equal([1, 8, 2], GeneratedText.TrimAtEos([1, 8, 2], eosId: 9, eotId: null));
    }

    [Fact]
    public void Without_stop_ids_returns_input_unchanged()
    {
        int[] ids = [4, 5, 6];
        Assert.Same(ids, GeneratedText.TrimAtEos(ids, 9, 8));
        Assert.Empty(GeneratedText.TrimAtEos([], 9, 8));
    }

    [Fact]
    public void Tokenizer_overload_uses_eos_and_eot()
    {
        var tok = new ByteTokenizer();
        var generated = tok.Encode("Answer.<|eot_id|><|endoftext|><|endoftext|>");
        Assert.Equal("Answer.", tok.Decode(GeneratedText.TrimAtEos(tok, generated)));
        Assert.Equal(ByteTokenizer.EndOfTurn, GeneratedText.EndOfTurnId(tok));
    }

    [Fact]
    public void Answer_stops_at_eos_or_end_of_turn_is_capped_and_skips_special_tokens()
    {
        var tok = new ByteTokenizer();
        int[] canvas = [.. tok.Encode("Hi <|startoftext|>there"), ByteTokenizer.EndOfTurn, ByteTokenizer.Eos, ByteTokenizer.Eos];
        AnswerText a = GeneratedText.Answer(tok, canvas, ByteTokenizer.Eos);
        Assert.Equal(("Hi there", true), (a.Text, a.Stopped));
        Assert.Equal(canvas.Length - 3, a.Ids.Length);
        AnswerText capped = GeneratedText.Answer(tok, canvas, ByteTokenizer.Eos, maxTokens: 2);
        Assert.Equal(("Hi", false, 2), (capped.Text, capped.Stopped, capped.Ids.Length)); // the cap came first
        AnswerText full = GeneratedText.Answer(tok, tok.Encode("abc"), ByteTokenizer.Eos);
        Assert.Equal(("abc", false), (full.Text, full.Stopped)); // the canvas ran out: no stop id
    }
}
