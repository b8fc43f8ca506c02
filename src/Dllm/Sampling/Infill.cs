using System.Globalization;
using System.Text;

namespace Dllm.Sampling;

/// <summary>A piece of an infilling template: literal text or a run of masks.</summary>
public abstract record InfillSegment;

/// <summary>Literal text, kept as given (to be tokenized by the caller).</summary>
public sealed record TextSegment(string Text) : InfillSegment;

/// <summary><see cref="Count"/> consecutive masked positions for the model to fill.</summary>
public sealed record MaskRun(int Count) : InfillSegment;

/// <summary>
/// Infilling templates: text with mask runs anywhere, e.g. <c>"The [MASK:5] sat on the [MASK:3]."</c>.
/// Masked diffusion models fill masks at any position with bidirectional context (LLaDA §2.4; the
/// reversal-curse results rely on it), so the same sampler decodes a suffix, a middle or several gaps.
/// </summary>
public static class Infill
{
    private const string Open = "[MASK";

    /// <summary>
    /// Splits a template into text and mask runs. <c>[MASK]</c> is one mask, <c>[MASK:n]</c> n masks
    /// (n ≥ 1). A backslash escapes the next character (<c>\[MASK]</c> is literal text, <c>\\</c> a
    /// backslash); any other bracketed text is literal. Adjacent text is merged; empty text is dropped.
    /// </summary>
    /// <exception cref="ArgumentException">A <c>[MASK:</c> without a positive integer and a closing bracket
    /// (the message gives the character offset).</exception>
    public static IReadOnlyList<InfillSegment> Parse(string template)
    {
        ArgumentNullException.ThrowIfNull(template);
        var segments = new List<InfillSegment>();
        var text = new StringBuilder();
        void FlushText()
        {
            if (text.Length > 0) segments.Add(new TextSegment(text.ToString()));
            text.Clear();
        }

        int i = 0;
        while (i < template.Length)
        {
            char c = template[i];
            if (c == '\\' && i + 1 < template.Length) { text.Append(template[i + 1]); i += 2; continue; }
            if (c == '[' && string.CompareOrdinal(template, i, Open, 0, Open.Length) == 0)
            {
                int after = i + Open.Length;
                if (after < template.Length && template[after] == ']')
                {
                    FlushText();
                    segments.Add(new MaskRun(1));
                    i = after + 1;
                    continue;
                }
                if (after < template.Length && template[after] == ':')
                {
                    int close = template.IndexOf(']', after);
                    if (close < 0) throw new ArgumentException($"unclosed [MASK: at offset {i}", nameof(template));
                    string digits = template[(after + 1)..close];
                    if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
                        throw new ArgumentException($"[MASK:{digits}] at offset {i}: the count must be a positive integer", nameof(template));
                    FlushText();
                    segments.Add(new MaskRun(n));
                    i = close + 1;
                    continue;
                }
            }
            text.Append(c);
            i++;
        }
        FlushText();
        return segments;
    }

    /// <summary>
    /// The canvas of a template: <see cref="Parse"/> then <see cref="Build(IReadOnlyList{InfillSegment}, Func{string, IReadOnlyList{int}}, int, IReadOnlyList{int}?)"/>,
    /// starting with <paramref name="bosId"/> when there is one (a model reads text after BOS, as in training).
    /// </summary>
    /// <exception cref="ArgumentException">A malformed <c>[MASK:</c> run (see <see cref="Parse"/>), or a canvas
    /// longer than <paramref name="maxLength"/>.</exception>
    public static InfillCanvas Build(string template, Func<string, IReadOnlyList<int>> encode, int maskId, int? bosId, int maxLength = int.MaxValue)
        => Build(Parse(template), encode, maskId, bosId is int bos ? [bos] : null, maxLength);

    /// <summary>
    /// Turns segments into a canvas: each text segment through <paramref name="encode"/> (given,
    /// never changed), each mask run as that many <paramref name="maskId"/>s. <paramref name="prefix"/>
    /// (e.g. BOS) goes first. Nothing is pinned; pin positions on the result if needed.
    /// </summary>
    /// <exception cref="ArgumentException">The canvas would be longer than <paramref name="maxLength"/> (checked
    /// before the masks are laid out, so <c>[MASK:1000000000]</c> costs nothing).</exception>
    public static InfillCanvas Build(IReadOnlyList<InfillSegment> segments, Func<string, IReadOnlyList<int>> encode,
        int maskId, IReadOnlyList<int>? prefix = null, int maxLength = int.MaxValue)
    {
        long masks = segments.OfType<MaskRun>().Sum(m => (long)m.Count);
        if (masks > maxLength)
            throw new ArgumentException($"the infill template asks for {masks:N0} masks, more than the model's maximum sequence length {maxLength}");
        var ids = new List<int>(prefix ?? []);
        foreach (InfillSegment s in segments)
        {
            switch (s)
            {
                case TextSegment t: ids.AddRange(encode(t.Text)); break;
                case MaskRun m: ids.AddRange(Enumerable.Repeat(maskId, m.Count)); break;
                default: throw new ArgumentException($"unknown segment {s}");
            }
        }
        if (ids.Count > maxLength)
            throw new ArgumentException($"the infill canvas has {ids.Count} tokens, more than the model's maximum sequence length {maxLength}");
        return new InfillCanvas([.. ids]);
    }
}

/// <summary>
/// A prepared infilling canvas: token ids with the mask id wherever the model should write, and
/// optional pinned positions the sampler must never change (a pinned mask stays a mask). Unmasked
/// positions never change either; pins matter for masks to keep, and document intent.
/// </summary>
public sealed record InfillCanvas(int[] Tokens, IReadOnlySet<int>? Pinned = null)
{
    /// <summary>Optional: which tokens each masked position may take (structured output); null = any.</summary>
    public ITokenConstraint? Constraint { get; init; }

    /// <summary>True when position <paramref name="p"/> is pinned.</summary>
    public bool IsPinned(int p) => Pinned?.Contains(p) ?? false;
}
