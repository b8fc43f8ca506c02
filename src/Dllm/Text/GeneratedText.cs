namespace Dllm.Text;

/// <summary>
/// An answer as a user sees it (<see cref="GeneratedText.Answer"/>).
/// </summary>
/// <param name="Ids">The answer ids: those before the first stop id, at most the cap.</param>
/// <param name="Text"><paramref name="Ids"/> decoded, special tokens skipped.</param>
/// <param name="Stopped">True when a stop id (EOS or end of turn) ended the answer before the cap: the model
/// finished its answer; false when the canvas or the cap ran out first.</param>
public sealed record AnswerText(int[] Ids, string Text, bool Stopped);

/// <summary>
/// Turns a generated id sequence into the answer a user should see. The one place that knows which ids end an
/// answer: the end-of-sequence id (LLaDA fills the unused tail of its fixed-length canvas with it) and the
/// tokenizer's end-of-turn token (<see cref="ITokenizer.EndOfTurnId"/>: what the tokenizer config and chat
/// template name, e.g. <c>&lt;|eot_id|&gt;</c> for LLaDA, <c>&lt;|im_end|&gt;</c> for Qwen), which instruct models emit first.
/// </summary>
public static class GeneratedText
{
    /// <summary>The end-of-turn id of <paramref name="tok"/> (<see cref="ITokenizer.EndOfTurnId"/>), or null when it
    /// has no such token (a base model's).</summary>
    public static int? EndOfTurnId(ITokenizer tok)
    {
        ArgumentNullException.ThrowIfNull(tok);
        return tok.EndOfTurnId;
    }

    /// <summary>
    /// The ids before the first <paramref name="eosId"/> or <paramref name="eotId"/>: everything from the first of
    /// either on is padding.
    /// </summary>
    /// <param name="ids">Generated ids (the answer part only, without the prompt).</param>
    /// <param name="eosId">End-of-sequence id.</param>
    /// <param name="eotId">End-of-turn id, or null when the tokenizer has none.</param>
    /// <returns><paramref name="ids"/> itself when no stop id occurs, else a new list with the prefix.
    /// Mask ids still present (an unfinished canvas) are kept; callers decide how to show them.</returns>
    public static IReadOnlyList<int> TrimAtEos(IReadOnlyList<int> ids, int eosId, int? eotId)
    {
        ArgumentNullException.ThrowIfNull(ids);
        for (int i = 0; i < ids.Count; i++)
        {
            if (ids[i] == eosId || ids[i] == eotId)
            {
                var prefix = new int[i];
                for (int j = 0; j < i; j++) prefix[j] = ids[j];
                return prefix;
            }
        }
        return ids;
    }

    /// <summary>
    /// <see cref="TrimAtEos(IReadOnlyList{int}, int, int?)"/> with the tokenizer's EOS and <see cref="EndOfTurnId"/>.
    /// </summary>
    public static IReadOnlyList<int> TrimAtEos(ITokenizer tok, IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(tok);
        return TrimAtEos(ids, tok.EosId, EndOfTurnId(tok));
    }

    /// <summary>
    /// The answer of a denoised answer canvas: the ids before the first <paramref name="eosId"/> or end-of-turn
    /// id of <paramref name="tok"/>, at most <paramref name="maxTokens"/> of them, and their text with special
    /// tokens skipped.
    /// </summary>
    /// <param name="tok">Decodes the ids; its end-of-turn token ends the answer too.</param>
    /// <param name="answer">The answer part of the canvas (EOS padding included).</param>
    /// <param name="eosId">The model's end-of-sequence id.</param>
    /// <param name="maxTokens">Cap on the returned ids (e.g. <c>DecodingOptions.MaxAnswerTokens</c>); ≥ 0.</param>
    public static AnswerText Answer(ITokenizer tok, IReadOnlyList<int> answer, int eosId, int maxTokens = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(tok);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTokens);
        IReadOnlyList<int> kept = TrimAtEos(answer, eosId, EndOfTurnId(tok));
        bool stopped = kept.Count < answer.Count && kept.Count < maxTokens;
        int[] ids = [.. kept.Take(maxTokens)];
        return new AnswerText(ids, tok.Decode(ids, skipSpecialTokens: true), stopped);
    }
}
