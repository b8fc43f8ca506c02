using System.Text;

namespace Dllm.Tests.Robustness;

/// <summary>
/// Deterministic mutations of a valid file, the way a corrupt download, a bad converter or a hostile
/// user breaks one: JSON values swapped for values of another type or out of range (null, booleans,
/// strings, 1e400, huge and negative integers, lone surrogate escapes, arrays, objects), bytes flipped
/// (invalid UTF-8 included), truncation, deletions and duplicated spans.
/// </summary>
internal static class Mutator
{
    private static readonly string[] HostileValues =
    [
        "null", "true", "false", "\"x\"", "\"\"", "1e400", "-1e400", "-1", "0", "1.5", "2147483647", "2147483648",
        "-2147483649", "9223372036854775808", "1073741824", "536870912", "33554432", "\"\\ud800\"", "\"a\\udc00b\"",
        "[]", "{}", "[1,2,3]", "{\"a\":1}", "\"\\u0000\"", "NaN", "-0",
    ];

    /// <summary><paramref name="count"/> mutants of <paramref name="valid"/>, reproducible from <paramref name="seed"/>.</summary>
    public static IEnumerable<(byte[] Bytes, string What)> Mutants(byte[] valid, int seed, int count)
    {
        var rng = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            int kind = rng.Next(8);
            yield return kind switch
            {
                0 or 1 or 2 => SwapValue(valid, rng),
                3 => FlipBytes(valid, rng),
                4 => (valid[..rng.Next(valid.Length)], "truncated"),
                5 => DeleteSpan(valid, rng),
                6 => DuplicateSpan(valid, rng),
                _ => InsertInString(valid, rng),
            };
        }
    }

    /// <summary>Replaces the JSON value after a random ':' or '[' or ',' with a hostile one.</summary>
    private static (byte[], string) SwapValue(byte[] valid, Random rng)
    {
        string text = Encoding.UTF8.GetString(valid);
        var starts = new List<int>();
        for (int i = 0; i < text.Length; i++) if (text[i] is ':' or '[' or ',') starts.Add(i + 1);
        if (starts.Count == 0) return FlipBytes(valid, rng);
        int s = starts[rng.Next(starts.Count)];
        while (s < text.Length && text[s] == ' ') s++;
        int e = s;
        if (e < text.Length && text[e] == '"')
        {
            e++;
            while (e < text.Length && text[e] != '"') e += text[e] == '\\' ? 2 : 1;
            e = Math.Min(text.Length, e + 1);
        }
        else while (e < text.Length && text[e] is not (',' or '}' or ']')) e++;
        string value = HostileValues[rng.Next(HostileValues.Length)];
        return (Encoding.UTF8.GetBytes(text[..s] + value + text[e..]), $"value at {s} → {value}");
    }

    private static (byte[], string) FlipBytes(byte[] valid, Random rng)
    {
        byte[] b = (byte[])valid.Clone();
        int n = 1 + rng.Next(4);
        var where = new List<string>();
        for (int k = 0; k < n && b.Length > 0; k++)
        {
            int i = rng.Next(b.Length);
            b[i] = rng.Next(3) switch { 0 => 0xFF, 1 => 0x80, _ => (byte)rng.Next(256) };
            where.Add($"{i}={b[i]:X2}");
        }
        return (b, "bytes " + string.Join(",", where));
    }

    private static (byte[], string) DeleteSpan(byte[] valid, Random rng)
    {
        if (valid.Length < 2) return (valid, "unchanged");
        int s = rng.Next(valid.Length), len = 1 + rng.Next(Math.Min(32, valid.Length - s));
        return ([.. valid[..s], .. valid[(s + len)..]], $"deleted [{s}, {s + len})");
    }

    private static (byte[], string) DuplicateSpan(byte[] valid, Random rng)
    {
        if (valid.Length < 2) return (valid, "unchanged");
        int s = rng.Next(valid.Length), len = 1 + rng.Next(Math.Min(64, valid.Length - s));
        return ([.. valid[..(s + len)], .. valid[s..(s + len)], .. valid[(s + len)..]], $"duplicated [{s}, {s + len})");
    }

    private static (byte[], string) InsertInString(byte[] valid, Random rng)
    {
        string text = Encoding.UTF8.GetString(valid);
        var quotes = new List<int>();
        for (int i = 0; i < text.Length; i++) if (text[i] == '"') quotes.Add(i + 1);
        if (quotes.Count == 0) return FlipBytes(valid, rng);
        int at = quotes[rng.Next(quotes.Count)];
        string insert = rng.Next(3) switch { 0 => "\\ud83d", 1 => "\\udfff", _ => "\\u00" };
        return (Encoding.UTF8.GetBytes(text[..at] + insert + text[at..]), $"inserted {insert} at {at}");
    }
}
