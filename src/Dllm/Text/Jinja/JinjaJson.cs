using System.Globalization;
using System.Text;

namespace Dllm.Text.Jinja;

/// <summary>
/// The <c>tojson</c> filter as transformers defines it for chat templates: Python's
/// <c>json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)</c>
/// (transformers overrides Jinja's own tojson, which would HTML-escape).
/// </summary>
/// <remarks>Default separators are <c>", "</c> and <c>": "</c> (<c>","</c> between items when indenting), non-ASCII
/// is written as is, control characters as <c>\u00XX</c> except \n \r \t \b \f.</remarks>
internal static class JinjaJson
{
    public static string Dumps(object? value, int? indent, bool sortKeys, string? itemSep = null, string? keySep = null)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, sortKeys, itemSep ?? (indent is null ? ", " : ","), keySep ?? ": ", 0);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? v, int? indent, bool sortKeys, string itemSep, string keySep, int depth)
    {
        switch (v)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : Py.FloatRepr(d));
                break;
            case string s: WriteString(sb, s); break;
            case List<object?> or object?[]:
                WriteContainer(sb, '[', ']', Py.Items(v), indent, depth, itemSep, (item, d) => Write(sb, item, indent, sortKeys, itemSep, keySep, d));
                break;
            case OrderedDictionary<string, object?> dict:
                IEnumerable<KeyValuePair<string, object?>> pairs = sortKeys ? dict.OrderBy(kv => kv.Key, StringComparer.Ordinal) : dict;
                WriteContainer(sb, '{', '}', pairs.ToList(), indent, depth, itemSep, (kv, d) =>
                {
                    WriteString(sb, kv.Key);
                    sb.Append(keySep);
                    Write(sb, kv.Value, indent, sortKeys, itemSep, keySep, d);
                });
                break;
            case JinjaNamespace ns:
                Write(sb, new OrderedDictionary<string, object?>(ns.Values), indent, sortKeys, itemSep, keySep, depth);
                break;
            default:
                throw new InvalidOperationException($"Object of type {Py.TypeName(v)} is not JSON serializable");
        }
    }

    private static void WriteContainer<T>(StringBuilder sb, char open, char close, IReadOnlyList<T> items, int? indent, int depth,
        string itemSep, Action<T, int> writeItem)
    {
        sb.Append(open);
        if (items.Count == 0) { sb.Append(close); return; }
        for (int i = 0; i < items.Count; i++)
        {
            if (i > 0) sb.Append(itemSep);
            if (indent is int n) sb.Append('\n').Append(' ', n * (depth + 1));
            writeItem(items[i], depth + 1);
        }
        if (indent is int m) sb.Append('\n').Append(' ', m * depth);
        sb.Append(close);
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append(@"\\"); break;
                case '\n': sb.Append(@"\n"); break;
                case '\r': sb.Append(@"\r"); break;
                case '\t': sb.Append(@"\t"); break;
                case '\b': sb.Append(@"\b"); break;
                case '\f': sb.Append(@"\f"); break;
                default:
                    if (c < 0x20) sb.Append($"\\u{(int)c:x4}");
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
