using System.Text.RegularExpressions;

namespace Dllm.Text;

/// <summary>
/// Cuts text into plain runs and whole special tokens, so that "&lt;|start_header_id|&gt;user" is encoded as
/// the header id followed by the encoding of "user", never as the characters '&lt;', '|', ...
/// </summary>
/// <remarks>
/// Matching is leftmost, then longest (alternatives are tried longest first), which is what Hugging Face's
/// added-token matcher does; so with tokens "&lt;|a|&gt;" and "&lt;|a|&gt;x" the text "&lt;|a|&gt;x" gives the
/// longer one. Matching is exact and case-sensitive; HF's lstrip/rstrip/single_word options are not applied.
/// </remarks>
internal sealed class SpecialTokenSplitter
{
    private readonly Regex? _pattern;
    private readonly Dictionary<string, int> _ids;

    /// <param name="tokens">Token text to id. Empty strings are ignored (they would match everywhere).</param>
    public SpecialTokenSplitter(IReadOnlyDictionary<string, int> tokens)
    {
        _ids = tokens.Where(kv => kv.Key.Length > 0).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        if (_ids.Count == 0) return;
        string alternatives = string.Join("|", _ids.Keys
            .OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal)
            .Select(Regex.Escape));
        // Escaped literals match in linear time; the timeout only guards against the unforeseen.
        _pattern = new Regex(alternatives, RegexOptions.CultureInvariant, PreTokenizerSpec.MatchTimeout);
    }

    /// <summary>
    /// Yields the pieces of <paramref name="text"/> in order: plain text (<c>SpecialId</c> null, never empty)
    /// or one special token (<c>SpecialId</c> set).
    /// </summary>
    public IEnumerable<(string Text, int? SpecialId)> Split(string text)
    {
        if (_pattern is null)
        {
            if (text.Length > 0) yield return (text, null);
            yield break;
        }
        int pos = 0;
        for (Match m = _pattern.Match(text); m.Success; m = m.NextMatch())
        {
            if (m.Index > pos) yield return (text[pos..m.Index], null);
            yield return (m.Value, _ids[m.Value]);
            pos = m.Index + m.Length;
        }
        if (pos < text.Length) yield return (text[pos..], null);
    }
}
