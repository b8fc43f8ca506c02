using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Dllm.Text;

/// <summary>
/// The part of a Hugging Face <c>pre_tokenizer</c> (and <c>normalizer</c>) that a byte-level BPE needs:
/// an ordered list of splitting regexes, whether a space is prepended, and a Unicode normalization form.
/// </summary>
/// <remarks>
/// <para>Supported: <c>ByteLevel</c> (with <c>use_regex</c>, which means GPT-2's pattern, and
/// <c>add_prefix_space</c>), <c>Split</c> with a <c>Regex</c> or <c>String</c> pattern and behaviour
/// <c>Isolated</c> (the Llama-3/LLaDA layout is <c>Sequence[Split(regex), ByteLevel(use_regex=false)]</c>),
/// <c>Digits</c>, and <c>Sequence</c> of those. Anything else throws <see cref="NotSupportedException"/>
/// rather than silently tokenizing differently from the model's training.</para>
/// <para>The HF patterns are Oniguruma/fancy-regex syntax; they are compiled with .NET's engine, which
/// agrees on the constructs these files use (<c>\p{L}</c>, <c>\p{N}</c>, <c>(?i:...)</c>, <c>(?!\S)</c>).
/// A pattern .NET cannot parse (e.g. possessive <c>?+</c>) is reported as not supported. <c>\s</c> may
/// differ for rare Unicode space characters.</para>
/// </remarks>
internal sealed class PreTokenizerSpec
{
    /// <summary>GPT-2's pattern, used by ByteLevel when <c>use_regex</c> is true.</summary>
    internal const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>
    /// Limit on one regex match: the patterns come from files, and a pathological one (or input) must fail
    /// with a message rather than hang a request. The real patterns match in microseconds.
    /// </summary>
    internal static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(2);

    private readonly List<Regex> _splits = [];

    /// <summary>Prepend a space to each plain-text run that does not start with one (HF ByteLevel <c>add_prefix_space</c>).</summary>
    public bool AddPrefixSpace { get; private set; }

    /// <summary>True when a ByteLevel step was seen (pre-tokenizer or decoder): the vocabulary is byte-level.</summary>
    public bool SawByteLevel { get; private set; }

    /// <summary>Unicode normalization applied before splitting (FormC or FormD), or null.</summary>
    public NormalizationForm? Normalization { get; private set; }

    /// <summary>The splitting regexes in the order they are applied (their .NET source text).</summary>
    public IReadOnlyList<string> Patterns => [.. _splits.Select(r => r.ToString())];

    /// <summary>True when <paramref name="other"/> splits every text as this one does because it is the same
    /// configuration: same regexes (textually) in the same order, prefix space and normalization.</summary>
    /// <remarks>Textual: two different but equivalent regexes are reported as different (the caller then refuses
    /// rather than guessing).</remarks>
    public bool SameAs(PreTokenizerSpec other)
        => AddPrefixSpace == other.AddPrefixSpace && Normalization == other.Normalization
           && Patterns.SequenceEqual(other.Patterns, StringComparer.Ordinal);

    /// <summary>Reads the <c>normalizer</c> and <c>pre_tokenizer</c> values (either may be null/absent).</summary>
    public static PreTokenizerSpec Parse(JsonElement? normalizer, JsonElement? preTokenizer)
    {
        var spec = new PreTokenizerSpec();
        if (normalizer is { ValueKind: JsonValueKind.Object } n) spec.AddNormalizer(n);
        if (preTokenizer is { ValueKind: JsonValueKind.Object } p) spec.AddStep(p);
        return spec;
    }

    /// <summary>Records that the decoder is ByteLevel (some files put ByteLevel only there).</summary>
    public void MarkByteLevel() => SawByteLevel = true;

    private void AddNormalizer(JsonElement n)
    {
        string type = TypeOf(n, "normalizer");
        switch (type)
        {
            case "NFC": Normalization = NormalizationForm.FormC; break;
            case "NFD": Normalization = NormalizationForm.FormD; break;
            case "NFKC": case "NFKD":
                // string.Normalize is a no-op on non-ASCII under InvariantGlobalization, and Nfc has no compatibility data.
                throw new NotSupportedException($"normalizer type '{type}' is not supported (only NFC and NFD)");
            case "Sequence":
                foreach (JsonElement child in n.GetProperty("normalizers").EnumerateArray()) AddNormalizer(child);
                break;
            default:
                throw new NotSupportedException($"normalizer type '{type}' is not supported (only NFC and NFD)");
        }
    }

    private void AddStep(JsonElement p)
    {
        string type = TypeOf(p, "pre_tokenizer");
        switch (type)
        {
            case "Sequence":
                foreach (JsonElement child in p.GetProperty("pretokenizers").EnumerateArray()) AddStep(child);
                break;
            case "ByteLevel":
                SawByteLevel = true;
                // HF defaults: add_prefix_space = true, use_regex = true.
                AddPrefixSpace |= BoolOr(p, "add_prefix_space", true);
                if (BoolOr(p, "use_regex", true)) _splits.Add(Compile(Gpt2Pattern));
                break;
            case "Split":
                AddSplit(p);
                break;
            case "Digits":
                _splits.Add(Compile(BoolOr(p, "individual_digits", false) ? @"\p{N}" : @"\p{N}+"));
                break;
            default:
                throw new NotSupportedException($"pre_tokenizer type '{type}' is not supported by the byte-level BPE loader");
        }
    }

    private void AddSplit(JsonElement p)
    {
        string behavior = p.TryGetProperty("behavior", out JsonElement b) ? b.GetString() ?? "" : "";
        if (behavior != "Isolated")
            throw new NotSupportedException($"Split pre_tokenizer behavior '{behavior}' is not supported (only Isolated)");
        if (BoolOr(p, "invert", false))
            throw new NotSupportedException("Split pre_tokenizer with invert=true is not supported");
        JsonElement pattern = p.GetProperty("pattern");
        if (pattern.TryGetProperty("Regex", out JsonElement r)) _splits.Add(Compile(r.GetString() ?? ""));
        else if (pattern.TryGetProperty("String", out JsonElement s)) _splits.Add(Compile(Regex.Escape(s.GetString() ?? "")));
        else throw new InvalidDataException("Split pre_tokenizer has neither a Regex nor a String pattern");
    }

    private static Regex Compile(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled, MatchTimeout);
        }
        catch (ArgumentException e)
        {
            throw new NotSupportedException($"pre-tokenizer regex is not supported by .NET: {pattern} ({e.Message})", e);
        }
    }

    /// <summary>
    /// Splits plain text (already free of special tokens) into the pieces BPE merges within. With
    /// "Isolated" behaviour both the matches and the gaps between them are pieces, so no text is lost
    /// even when a pattern does not cover every character. Without any regex the whole text is one piece.
    /// </summary>
    public List<string> Split(string text)
    {
        if (Normalization == NormalizationForm.FormC) text = Nfc.Normalize(text);
        else if (Normalization == NormalizationForm.FormD) text = Nfc.ToNfd(text);
        if (AddPrefixSpace && text.Length > 0 && text[0] != ' ') text = " " + text; // HF checks for a space, not any whitespace
        var pieces = new List<string> { text };
        foreach (Regex regex in _splits)
        {
            var next = new List<string>(pieces.Count * 4);
            foreach (string piece in pieces)
            {
                int pos = 0;
                try
                {
                    for (Match m = regex.Match(piece); m.Success; m = m.NextMatch())
                    {
                        if (m.Length == 0) continue; // an empty match splits nothing
                        if (m.Index > pos) next.Add(piece[pos..m.Index]);
                        next.Add(m.Value);
                        pos = m.Index + m.Length;
                    }
                }
                catch (RegexMatchTimeoutException e)
                {
                    throw new InvalidDataException($"the tokenizer's pre-tokenizer pattern {regex} ran over {MatchTimeout.TotalSeconds:0} s on a {piece.Length}-character text: it backtracks catastrophically; fix the pattern in tokenizer.json", e);
                }
                if (pos < piece.Length) next.Add(piece[pos..]);
            }
            pieces = next;
        }
        pieces.RemoveAll(s => s.Length == 0);
        return pieces;
    }

    private static string TypeOf(JsonElement e, string what)
        => e.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.String
            ? t.GetString()!
            : throw new InvalidDataException($"{what} has no \"type\"");

    private static bool BoolOr(JsonElement e, string name, bool fallback)
        => e.TryGetProperty(name, out JsonElement v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? v.GetBoolean()
            : fallback;
}
