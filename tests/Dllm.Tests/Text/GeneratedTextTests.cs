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
    }
}
