namespace Dllm.Text;

/// <summary>Helpers to turn a generated id sequence into the answer a user should see.</summary>
public static class GeneratedText
{
    /// <summary>
    /// The ids before the first <paramref name="eosId"/> or <paramref name="eotId"/>: LLaDA fills the unused
    /// tail of its fixed-length canvas with EOS, and instruct models close their turn with
    /// <c>&lt;|eot_id|&gt;</c> first, so everything from the first of either on is padding.
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
    /// <see cref="TrimAtEos(IReadOnlyList{int}, int, int?)"/> with the tokenizer's EOS and <c>&lt;|eot_id|&gt;</c>.
    /// </summary>
    public static IReadOnlyList<int> TrimAtEos(ITokenizer tok, IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(tok);
        return TrimAtEos(ids, tok.EosId, tok.TokenToId(LladaTokens.EndOfTurn));
    }
}
