using System.Globalization;
using System.Text;

namespace Dllm.Text.Jinja;

/// <summary>
/// The functions every chat template can call: Jinja2's <c>range</c>, <c>namespace</c>, <c>dict</c>, and the two
/// transformers adds, <c>raise_exception(message)</c> and <c>strftime_now(format)</c>.
/// </summary>
internal static class JinjaGlobals
{
    public static Dictionary<string, object?> Create(TimeProvider time) => new(StringComparer.Ordinal)
    {
        ["range"] = new JinjaCallable("range", (a, _) => Range(a)),
        ["namespace"] = new JinjaCallable("namespace", (a, k) =>
        {
            var ns = new JinjaNamespace();
            foreach (object? init in a)
            {
                if (init is not OrderedDictionary<string, object?> d) throw new InvalidOperationException("namespace() takes keyword arguments or a dict");
                foreach (var (key, v) in d) ns.Values[key] = v;
            }
            foreach (var (key, v) in k) ns.Values[key] = v;
            return ns;
        }),
        ["dict"] = new JinjaCallable("dict", (_, k) => new OrderedDictionary<string, object?>(k, StringComparer.Ordinal)),
        ["raise_exception"] = new JinjaCallable("raise_exception", (a, _) =>
            throw new JinjaError(0, a.Count > 0 ? Py.Str(a[0]) : "raise_exception() called") { RaisedByTemplate = true }),
        ["strftime_now"] = new JinjaCallable("strftime_now", (a, _) =>
            Strftime(time.GetLocalNow().DateTime, a.Count > 0 && a[0] is string f ? f : throw new InvalidOperationException("strftime_now(format) needs a format string"))),
    };

    private static List<object?> Range(List<object?> a)
    {
        long[] n = a.Select(x => x is long l ? l : x is bool b ? (b ? 1 : 0) : throw new InvalidOperationException($"range() needs integers, not {Py.TypeName(x)}")).ToArray();
        (long start, long stop, long step) = n.Length switch
        {
            1 => (0, n[0], 1L),
            2 => (n[0], n[1], 1L),
            3 => (n[0], n[1], n[2]),
            _ => throw new InvalidOperationException($"range() takes 1 to 3 arguments ({n.Length} given)"),
        };
        if (step == 0) throw new InvalidOperationException("range() step must not be zero");
        var list = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (list.Count >= 100_000) throw new InvalidOperationException("range() too large (limit 100000 items)");
            list.Add(i);
        }
        return list;
    }

    // The C strftime directives templates use (Llama 3.1 writes "%d %b %Y"), in the C locale.
    private static string Strftime(DateTime t, string format)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 == format.Length) { sb.Append(format[i]); continue; }
            char d = format[++i];
            sb.Append(d switch
            {
                'Y' => t.ToString("yyyy", CultureInfo.InvariantCulture),
                'y' => t.ToString("yy", CultureInfo.InvariantCulture),
                'm' => t.ToString("MM", CultureInfo.InvariantCulture),
                'd' => t.ToString("dd", CultureInfo.InvariantCulture),
                'B' => t.ToString("MMMM", CultureInfo.InvariantCulture),
                'b' => t.ToString("MMM", CultureInfo.InvariantCulture),
                'A' => t.ToString("dddd", CultureInfo.InvariantCulture),
                'a' => t.ToString("ddd", CultureInfo.InvariantCulture),
                'H' => t.ToString("HH", CultureInfo.InvariantCulture),
                'I' => t.ToString("hh", CultureInfo.InvariantCulture),
                'M' => t.ToString("mm", CultureInfo.InvariantCulture),
                'S' => t.ToString("ss", CultureInfo.InvariantCulture),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'j' => t.DayOfYear.ToString("000", CultureInfo.InvariantCulture),
                '%' => "%",
                _ => throw new InvalidOperationException($"strftime_now: directive %{d} is not supported"),
            });
        }
        return sb.ToString();
    }
}
