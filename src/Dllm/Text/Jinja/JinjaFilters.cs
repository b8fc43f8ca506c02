using System.Globalization;
using System.Text;

namespace Dllm.Text.Jinja;

/// <summary>
/// The Jinja2 built-in filters that chat templates use, with Jinja2's argument names and defaults, plus
/// transformers' <c>tojson</c>. An unknown filter is an error (never a silent pass-through).
/// </summary>
internal static class JinjaFilters
{
    public static object? Apply(string name, object? value, List<object?> positional, Dictionary<string, object?> kwargs)
    {
        var a = new JinjaArgs(name, positional, kwargs);
        switch (name)
        {
            case "safe": return value; // autoescape is off for chat templates
            case "trim": return JinjaMethods.Strip(Py.Str(value), a.String(0, "chars"), left: true, right: true);
            case "upper": return Py.Str(value).ToUpperInvariant();
            case "lower": return Py.Str(value).ToLowerInvariant();
            case "capitalize": return Capitalize(Py.Str(value));
            case "title": return JinjaMethods.Title(Py.Str(value));
            case "string": return Py.Str(value);
            case "length": case "count": return Py.Length(value);
            case "wordcount": return (long)Py.Str(value).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
            case "default": case "d":
                a.Check(2, "default_value", "boolean");
                bool boolean = a.Bool(1, "boolean", false);
                return value is Undefined || (boolean && !Py.Truthy(value)) ? a.Get(0, "default_value", "") : value;
            case "tojson":
                a.Check(1, "indent", "sort_keys", "ensure_ascii", "separators");
                return JinjaJson.Dumps(value, (int?)a.Int(0, "indent"), a.Bool(99, "sort_keys", false));
            case "items":
                if (value is Undefined) return new List<object?>();
                if (value is not OrderedDictionary<string, object?> d) throw new InvalidOperationException($"items filter needs a dict, not {Py.TypeName(value)}");
                return d.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList();
            case "join":
                a.Check(2, "d", "attribute");
                IEnumerable<object?> parts = Py.Iterate(value);
                if (a.String(1, "attribute") is { } attr) parts = parts.Select(p => JinjaMethods.GetAttrPath(p, attr));
                return string.Join(a.String(0, "d", "") ?? "", parts.Select(Py.Str));
            case "replace":
                a.Check(3, "old", "new", "count");
                return JinjaMethods.Replace(Py.Str(value), a.String(0, "old") ?? "", a.String(1, "new") ?? "", a.Int(2, "count"));
            case "first": return Py.Iterate(value).FirstOrDefault(new Undefined("first item"));
            case "last": { var items = Py.Iterate(value); return items.Count > 0 ? items[^1] : new Undefined("last item"); }
            case "list": return new List<object?>(Py.Iterate(value));
            case "reverse":
                if (value is string s) return new string(s.EnumerateRunes().Reverse().SelectMany(r => r.ToString()).ToArray());
                return Py.Iterate(value).Reverse().ToList();
            case "sort": return Sort(value, a);
            case "unique":
                var seen = new List<object?>();
                foreach (object? item in Py.Iterate(value)) if (!seen.Any(x => Py.Equals(x, item))) seen.Add(item);
                return seen;
            case "map": return Map(value, a, positional, kwargs);
            case "select": case "reject": return Select(value, positional, name == "select", attribute: false);
            case "selectattr": case "rejectattr": return Select(value, positional, name == "selectattr", attribute: true);
            case "int": return ToInt(value, a.Get(0, "default", 0L));
            case "float": return ToFloat(value, a.Get(0, "default", 0.0));
            case "abs": return value is long l ? Math.Abs(l) : (object)Math.Abs(Py.ToDouble(value));
            case "round":
                int precision = (int)(a.Int(0, "precision", 0) ?? 0);
                string method = a.String(1, "method", "common") ?? "common";
                double x = Py.ToDouble(value), f = Math.Pow(10, precision);
                return method switch
                {
                    "common" => Math.Round(x * f, MidpointRounding.AwayFromZero) / f,
                    "floor" => Math.Floor(x * f) / f,
                    "ceil" => Math.Ceiling(x * f) / f,
                    _ => throw new InvalidOperationException("round: method must be common, ceil or floor"),
                };
            case "sum":
                object? total = a.Get(1, "start", 0L);
                foreach (object? item in Py.Iterate(value))
                    total = Py.Arithmetic("+", total, a.Get(0, "attribute") is string at ? JinjaMethods.GetAttrPath(item, at) : item);
                return total;
            case "min": case "max":
                var all = Py.Iterate(value);
                if (all.Count == 0) return new Undefined($"{name} of an empty sequence");
                return all.Aggregate((p, q) => (Py.Compare(q, p) < 0) == (name == "min") ? q : p);
            case "indent": return Indent(Py.Str(value), a);
            default: throw new InvalidOperationException($"no filter named '{name}'");
        }
    }

    private static string Capitalize(string s)
        => s.Length == 0 ? s : s[..1].ToUpperInvariant() + s[1..].ToLowerInvariant();

    private static object? Sort(object? value, JinjaArgs a)
    {
        a.Check(3, "reverse", "case_sensitive", "attribute");
        bool reverse = a.Bool(0, "reverse", false), caseSensitive = a.Bool(1, "case_sensitive", false);
        string? attribute = a.String(2, "attribute");
        object? Key(object? v)
        {
            object? k = attribute is null ? v : JinjaMethods.GetAttrPath(v, attribute);
            return !caseSensitive && k is string s ? s.ToLowerInvariant() : k;
        }
        var items = Py.Iterate(value).ToList();
        var sorted = items.Select((v, i) => (v, i)).OrderBy(p => p, Comparer<(object? v, int i)>.Create((p, q) =>
        {
            int c = Py.Compare(Key(p.v), Key(q.v));
            return c != 0 ? (reverse ? -c : c) : p.i.CompareTo(q.i); // stable, like Python's sorted
        }));
        return sorted.Select(p => p.v).ToList();
    }

    private static List<object?> Map(object? value, JinjaArgs a, List<object?> positional, Dictionary<string, object?> kwargs)
    {
        if (kwargs.TryGetValue("attribute", out object? attr) && attr is string path)
        {
            object? fallback = kwargs.GetValueOrDefault("default", new Undefined(path));
            return Py.Iterate(value).Select(v => JinjaMethods.GetAttrPath(v, path) is Undefined ? fallback : JinjaMethods.GetAttrPath(v, path)).ToList();
        }
        if (positional.Count == 0 || positional[0] is not string filter)
            throw new InvalidOperationException("map() needs a filter name or attribute=");
        var rest = positional.Skip(1).ToList();
        return Py.Iterate(value).Select(v => Apply(filter, v, rest, kwargs)).ToList();
    }

    private static List<object?> Select(object? value, List<object?> positional, bool keep, bool attribute)
    {
        int next = 0;
        string? attr = null;
        if (attribute)
        {
            attr = positional.Count > 0 && positional[0] is string s ? s : throw new InvalidOperationException("selectattr/rejectattr need an attribute name");
            next = 1;
        }
        string? test = positional.Count > next ? positional[next] as string : null;
        var testArgs = positional.Skip(next + 1).ToList();
        return Py.Iterate(value).Where(v =>
        {
            object? subject = attr is null ? v : JinjaMethods.GetAttrPath(v, attr);
            bool passed = test is null ? Py.Truthy(subject) : JinjaTests.Apply(test, subject, testArgs);
            return passed == keep;
        }).ToList();
    }

    private static object? ToInt(object? v, object? fallback) => v switch
    {
        long l => l,
        bool b => b ? 1L : 0L,
        double d => (long)Math.Truncate(d),
        string s when long.TryParse(s.Trim().Replace("_", ""), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) => l,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => (long)Math.Truncate(d),
        _ => fallback,
    };

    private static object? ToFloat(object? v, object? fallback) => v switch
    {
        long l => (double)l,
        bool b => b ? 1.0 : 0.0,
        double d => d,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
        _ => fallback,
    };

    // Jinja2's indent filter, including its quirks: a newline is appended before splitting into lines, lines
    // after the first are indented when non-empty (all of them with blank=True), first=True prefixes the result.
    private static string Indent(string s, JinjaArgs a)
    {
        a.Check(3, "width", "first", "blank");
        object? width = a.Get(0, "width", 4L);
        string prefix = width is string w ? w : new string(' ', (int)Py.ToDouble(width));
        bool first = a.Bool(1, "first", false), blank = a.Bool(2, "blank", false);
        List<string> lines = [.. (s + "\n").Split('\n')];
        lines.RemoveAt(lines.Count - 1); // Python's splitlines drops the piece after the final newline
        string rv = blank
            ? string.Join("\n" + prefix, lines)
            : lines[0] + (lines.Count > 1 ? "\n" + string.Join("\n", lines.Skip(1).Select(l => l.Length > 0 ? prefix + l : l)) : "");
        return first ? prefix + rv : rv;
    }
}
