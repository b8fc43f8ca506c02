namespace Dllm.Text;

/// <summary>
/// A text tokenizer as the engine sees it: text to ids and back, plus the handful of special ids a
/// masked diffusion model needs (mask, end of sequence, optional beginning of sequence).
/// </summary>
/// <remarks>
/// <para><see cref="Encode"/> never adds BOS/EOS: framing a prompt is the job of
/// <see cref="ChatTemplate"/> (or of the caller for raw completion), so that "encode then concatenate"
/// never produces stray BOS tokens in the middle of a sequence.</para>
/// <para>Special tokens written literally in the text (e.g. <c>"&lt;|eot_id|&gt;"</c>) are recognised
/// whole and encoded to their single id, like Hugging Face fast tokenizers do by default. Do not pass
/// untrusted user text through <see cref="Encode"/> if that matters to you.</para>
/// </remarks>
public interface ITokenizer
{
    /// <summary>Number of ids the tokenizer can produce: every id returned by <see cref="Encode"/> is below it.</summary>
    int VocabSize { get; }

    /// <summary>Encodes <paramref name="text"/> to ids, without adding BOS or EOS. Empty text gives an empty list.</summary>
    IReadOnlyList<int> Encode(string text);

    /// <summary>
    /// Decodes ids to text. Never throws for bad input: byte sequences that are not valid UTF-8 (for example
    /// a multi-byte character cut in half) and ids outside the vocabulary become U+FFFD.
    /// </summary>
    /// <param name="ids">Ids to decode.</param>
    /// <param name="skipSpecialTokens">When true, special tokens (BOS, EOS, mask, chat headers...) are dropped
    /// instead of being written out as their text (e.g. <c>&lt;|endoftext|&gt;</c>).</param>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false);

    /// <summary>Beginning-of-sequence id (<c>&lt;|startoftext|&gt;</c> for LLaDA), or null when the tokenizer has none.</summary>
    int? BosId { get; }

    /// <summary>End-of-sequence id (<c>&lt;|endoftext|&gt;</c> for LLaDA, also used as padding).</summary>
    int EosId { get; }

    /// <summary>The mask id the diffusion model denoises (<c>&lt;|mdm_mask|&gt;</c> for LLaDA).</summary>
    int MaskId { get; }

    /// <summary>Id of a single token given by its exact vocabulary string (special tokens included), or null.</summary>
    int? TokenToId(string token);

    /// <summary>Vocabulary string of an id (the byte-level form for BPE tokens, e.g. "Ġthe"), or null when unknown.</summary>
    string? IdToToken(int id);

    /// <summary>
    /// The token an instruct model ends its turn with (<c>&lt;|eot_id|&gt;</c> for LLaDA and Llama-3,
    /// <c>&lt;|im_end|&gt;</c> for Qwen/Dream/SDAR), which ends an answer as EOS does; null when there is none.
    /// By default the id of <c>&lt;|eot_id|&gt;</c>; tokenizers loaded with a config take it from there
    /// (<see cref="HfBpeTokenizer.EndOfTurnId"/>).
    /// </summary>
    int? EndOfTurnId => TokenToId(LladaTokens.EndOfTurn);

    /// <summary>
    /// The model's own chat template, or null when it ships none (then <see cref="ChatTemplate"/> uses its
    /// built-in LLaDA template). Null by default.
    /// </summary>
    ModelChatTemplate? ModelTemplate => null;
}
