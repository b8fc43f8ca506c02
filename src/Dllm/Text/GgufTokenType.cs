namespace Dllm.Text;

/// <summary>
/// The token kinds of a GGUF's <c>tokenizer.ggml.token_type</c> array (llama.cpp's numbering, stored as int32).
/// </summary>
/// <remarks>How a Hugging Face tokenizer maps onto them: a vocabulary entry is <see cref="Normal"/>; an added token
/// marked <c>special</c> (or spelled like one, <c>&lt;|...|&gt;</c>) is <see cref="Control"/>; any other added token is
/// <see cref="UserDefined"/>; an id the tokenizer leaves empty below the embedding size is <see cref="Unused"/>.</remarks>
internal enum GgufTokenType
{
    /// <summary>An ordinary BPE token (byte-level text).</summary>
    Normal = 1,

    /// <summary>The unknown token.</summary>
    Unknown = 2,

    /// <summary>A special token (BOS, EOS, chat headers...): matched whole, written raw.</summary>
    Control = 3,

    /// <summary>An added token that is not special (Qwen's <c>&lt;think&gt;</c>): matched whole, written raw.</summary>
    UserDefined = 4,

    /// <summary>A padding row with no text (the converter names it <c>[PADn]</c>).</summary>
    Unused = 5,

    /// <summary>A raw byte token (SentencePiece byte fallback); treated as a vocabulary entry.</summary>
    Byte = 6,
}
