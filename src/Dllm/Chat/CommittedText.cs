using Dllm.Text;

namespace Dllm.Chat;

/// <summary>
/// Turns successive denoising canvases into the answer text that has become final, left to right, for
/// streaming (OpenAI SSE <c>delta.content</c>). A diffusion model commits tokens anywhere in its block;
/// text is final only up to the first position that is still masked, so each <see cref="Advance"/> returns
/// the newly final part of the longest mask-free prefix of the answer.
/// </summary>
/// <remarks>
/// <para>Stops: the prefix ends at the first EOS or end-of-turn id (LLaDA pads its canvas with EOS), or at
/// the max-tokens cap; once either is reached and everything before it is final, <see cref="IsComplete"/>
/// is true and nothing more is emitted.</para>
/// <para>Multi-byte characters: a byte-level token may hold part of a UTF-8 character, which decodes to
/// U+FFFD until the rest arrives. Trailing U+FFFD characters of an unfinished prefix are therefore held back
/// until a later character follows them or the prefix is complete (a genuinely invalid byte is released
/// then). UTF-8 is self-synchronising, so the characters before them never change as tokens are added.</para>
/// <para>Assumes committed tokens stay committed (true of <see cref="Sampling.DiffusionSampler"/> except in
/// ReMDM loop steps, which can remask a committed token: callers stream those runs only at the end) and a
/// tokenizer whose decoding of a prefix is a prefix of the decoding (byte-level BPE and bytes are).</para>
/// </remarks>
public sealed class CommittedText
{
    private readonly ITokenizer _tokenizer;
    private readonly int _maskId, _eosId, _maxTokens;
    private readonly int? _eotId;
    private string _emitted = "";

    /// <param name="tokenizer">Decodes the answer ids (special tokens skipped).</param>
    /// <param name="maskId">The mask id; a masked position ends the final prefix.</param>
    /// <param name="eosId">End of sequence; the answer ends before it.</param>
    /// <param name="eotId">End of turn, or null; the answer ends before it too.</param>
    /// <param name="maxTokens">Only the first this-many answer tokens count.</param>
    public CommittedText(ITokenizer tokenizer, int maskId, int eosId, int? eotId, int maxTokens)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTokens);
        (_tokenizer, _maskId, _eosId, _eotId, _maxTokens) = (tokenizer, maskId, eosId, eotId, maxTokens);
    }

    /// <summary>The text emitted so far (the concatenation of every returned piece).</summary>
    public string Emitted => _emitted;

    /// <summary>True once the answer is final up to its end (a stop id or the cap).</summary>
    public bool IsComplete { get; private set; }

    /// <summary>Feeds the answer part of the current canvas; returns the newly final text ("" when none).</summary>
    public string Advance(ReadOnlySpan<int> answer)
    {
        if (IsComplete) return "";
        int limit = Math.Min(answer.Length, _maxTokens), n = 0;
        bool complete = false;
        for (; n < limit; n++)
        {
            int id = answer[n];
            if (id == _maskId) break;
            if (id == _eosId || id == _eotId) { complete = true; break; }
        }
        if (n == limit) complete = true; // every position up to the cap (or the canvas end) is final
        string text = _tokenizer.Decode(answer[..n].ToArray(), skipSpecialTokens: true);
        if (!complete) text = text.TrimEnd('\uFFFD');
        IsComplete = complete;
        return Emit(text);
    }

    /// <summary>
    /// Emits whatever of <paramref name="finalText"/> (the finished answer) has not been emitted yet, so that
    /// the pieces always add up to it. If it does not start with what was emitted (a tokenizer whose prefix
    /// decoding is not stable), nothing more is emitted.
    /// </summary>
    public string Finish(string finalText)
    {
        ArgumentNullException.ThrowIfNull(finalText);
        IsComplete = true;
        return Emit(finalText);
    }

    private string Emit(string text)
    {
        if (text.Length <= _emitted.Length || !text.StartsWith(_emitted, StringComparison.Ordinal)) return "";
        string piece = text[_emitted.Length..];
        _emitted = text;
        return piece;
    }
}
