using System.Globalization;
using System.Text;

namespace Dllm.Text;

/// <summary>
/// Unicode canonical normalization (NFC and NFD) from <see cref="UnicodeNfcData"/>, following UAX #15:
/// full canonical decomposition (Hangul algorithmically), canonical ordering of combining marks, then
/// canonical composition of primary composites.
/// </summary>
/// <remarks>
/// Why not <see cref="string.Normalize()"/>: Dllm builds with InvariantGlobalization, where it returns
/// non-ASCII text unchanged; Qwen tokenizers (Dream, SDAR, Fast-dLLM v2) NFC-normalize their input, so a
/// decomposed "é" would otherwise tokenize differently from Hugging Face. Text below U+0300 is returned
/// as is without a lookup (nothing there combines). Invalid surrogates pass through unchanged.
/// </remarks>
internal static class Nfc
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Lazy<(Dictionary<int, int[]> Decomp, Dictionary<int, int> Ccc, Dictionary<long, int> Comp)> Tables = new(Build);

    /// <summary>NFC of <paramref name="s"/>.</summary>
    public static string Normalize(string s) => IsBelow(s, 0x300) ? s : ToString(Compose(Decompose(s)));

    /// <summary>NFD of <paramref name="s"/>.</summary>
    public static string ToNfd(string s) => IsBelow(s, 0xC0) ? s : ToString(Decompose(s)); // U+00C0 is the first decomposable

    private static bool IsBelow(string s, int limit)
    {
        foreach (char c in s) if (c >= limit) return false;
        return true;
    }

    private static List<int> Decompose(string s)
    {
        var (decomp, ccc, _) = Tables.Value;
        var cps = new List<int>(s.Length);
        void Add(int cp)
        {
            if (cp is >= SBase and < SBase + SCount)
            {
                int si = cp - SBase;
                cps.Add(LBase + si / NCount);
                cps.Add(VBase + si % NCount / TCount);
                if (si % TCount != 0) cps.Add(TBase + si % TCount);
            }
            else if (decomp.TryGetValue(cp, out int[]? parts)) foreach (int p in parts) Add(p);
            else cps.Add(cp);
        }
        for (int i = 0; i < s.Length; i++)
        {
            int cp = char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])
                ? char.ConvertToUtf32(s[i], s[++i]) : s[i];
            Add(cp);
        }
        // Canonical ordering: within each run of non-starters, a stable sort by combining class.
        for (int i = 1; i < cps.Count; i++)
        {
            int c = ccc.GetValueOrDefault(cps[i]);
            if (c == 0) continue;
            for (int j = i; j > 0 && ccc.GetValueOrDefault(cps[j - 1]) > c; j--)
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
        }
        return cps;
    }

    private static List<int> Compose(List<int> cps)
    {
        var (_, ccc, comp) = Tables.Value;
        var output = new List<int>(cps.Count);
        int starter = -1, lastClass = 0;
        foreach (int cp in cps)
        {
            int c = ccc.GetValueOrDefault(cp);
            if (starter >= 0 && (lastClass < c || lastClass == 0) && Pair(output[starter], cp, comp) is int composite)
            {
                output[starter] = composite;
                continue;
            }
            if (c == 0) starter = output.Count;
            lastClass = starter < 0 ? 256 : c; // before the first starter nothing composes
            output.Add(cp);
        }
        return output;
    }

    private static int? Pair(int first, int second, Dictionary<long, int> comp)
    {
        if (first is >= LBase and < LBase + LCount && second is >= VBase and < VBase + VCount)
            return SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
        if (first is >= SBase and < SBase + SCount && (first - SBase) % TCount == 0 && second is > TBase and < TBase + TCount)
            return first + (second - TBase);
        return comp.TryGetValue(((long)first << 21) | (uint)second, out int c) ? c : null;
    }

    private static string ToString(List<int> cps)
    {
        var sb = new StringBuilder(cps.Count);
        foreach (int cp in cps)
        {
            if (cp is >= 0xD800 and <= 0xDFFF) sb.Append((char)cp); // a lone surrogate from the input
            else sb.Append(char.ConvertFromUtf32(cp));
        }
        return sb.ToString();
    }

    private static (Dictionary<int, int[]>, Dictionary<int, int>, Dictionary<long, int>) Build()
    {
        static int Hex(string s) => int.Parse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        static IEnumerable<(string Key, string Value)> Entries(string table) => table
            .Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Split(':'))
            .Select(p => (p[0], p[1]));

        var decomp = Entries(UnicodeNfcData.Decompositions).ToDictionary(e => Hex(e.Key), e => e.Value.Split(' ').Select(Hex).ToArray());
        var ccc = Entries(UnicodeNfcData.CombiningClasses).ToDictionary(e => Hex(e.Key), e => int.Parse(e.Value, CultureInfo.InvariantCulture));
        var comp = new Dictionary<long, int>();
        foreach (var (pair, composite) in Entries(UnicodeNfcData.Composites))
        {
            string[] ab = pair.Split(' ');
            comp[((long)Hex(ab[0]) << 21) | (uint)Hex(ab[1])] = Hex(composite);
        }
        return (decomp, ccc, comp);
    }
}
