using Dllm.Text;

namespace Dllm.Tests.Text;

/// <summary>
/// The real Qwen3 (Qwen2/2.5 share its vocabulary, merges and pre-tokenizer) and Llama-3 tokenizers encode
/// exactly as Hugging Face does (reference ids from transformers.js, identical to the Rust tokenizers
/// library on every case).
/// </summary>
public class RealTokenizerTests
{
    [Theory]
    [MemberData(nameof(RealTokenizers.AllCases), MemberType = typeof(RealTokenizers))]
    public void Encode_matches_hugging_face(string name, int index)
    {
        var (text, ids, _) = RealTokenizers.Cases(name)[index];
        Assert.Equal(ids, RealTokenizers.Get(name).Encode(text));
    }

    [Theory]
    [MemberData(nameof(RealTokenizers.AllCases), MemberType = typeof(RealTokenizers))]
    public void Decode_matches_hugging_face(string name, int index)
    {
        var (_, ids, decoded) = RealTokenizers.Cases(name)[index];
        Assert.Equal(decoded, RealTokenizers.Get(name).Decode(ids));
    }
}
