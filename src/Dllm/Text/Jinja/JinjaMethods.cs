using System.Text;

namespace Dllm.Text.Jinja;

/// <summary>
/// Attribute and item access (<c>x.y</c>, <c>x['y']</c>, <c>x[1:-1]</c>) with Jinja2's rules, and the Python
/// methods templates call on strings and dicts (<c>content.split('&lt;/think&gt;')</c>, <c>d.items()</c>).
/// </summary>
/// <remarks>As in Jinja2, <c>x.y</c> tries the attribute (a method) first and then the item, <c>x['y']</c> the
/// item first; a miss gives Undefined, and only using an Undefined (not looking it up) fails. Mutating
/// methods (<c>append</c>, <c>update</c>...) are refused, as transformers' immutable sandbox does.</remarks>
internal static class JinjaMethods
{
    public static object? GetAttr(object? obj, string name)
    {
        if (obj is Undefined u) throw new InvalidOperationException($"'{u.Name}' is undefined (looking up '.{name}')");
        if (obj is LoopInfo loop) return loop.Get(name);
        if (obj is JinjaNamespace ns) return ns.Values.TryGetValue(name, out object? nv) ? nv : new Undefined(name);
        if (Method(obj, name) is { } m) return m;
        if (obj is OrderedDictionary<string, object?> d) return d.TryGetValue(name, out object? v) ? v : new Undefined(name);
        return new Undefined(name);
    }

    public static object? GetItem(object? obj, object? key)
    {
        if (obj is Undefined u) throw new InvalidOperationException($"'{u.Name}' is undefined (looking up [{Py.Repr(key)}])");
        switch (obj)
        {
            case OrderedDictionary<string, object?> d when key is string k:
                if (d.TryGetValue(k, out object? v)) return v;
                break;
            case List<object?> or object?[] when key is long or bool:
                var items = Py.Items(obj);
                long i = key is bool b ? (b ? 1 : 0) : (long)key;
                if (i < 0) i += items.Count;
                return i >= 0 && i < items.Count ? items[(int)i] : new Undefined($"index {key}");
            case string s when key is long:
                Rune[] runes = [.. s.EnumerateRunes()];
                long j = (long)key;
                if (j < 0) j += runes.Length;
                return j >= 0 && j < runes.Length ? runes[(int)j].ToString() : new Undefined($"index {key}");
            case LoopInfo or JinjaNamespace when key is string name:
                return GetAttr(obj, name);
        }
        return key is string attr && obj is not OrderedDictionary<string, object?> ? GetAttr(obj, attr) : new Undefined(Py.Str(key));
    }

    /// <summary>Python slicing <c>seq[start:stop:step]</c> on lists, tuples and strings (null bounds = open).</summary>
    public static object? Slice(object? obj, long? start, long? stop, long? step)
    {
        long st = step ?? 1;
        if (st == 0) throw new InvalidOperationException("slice step cannot be zero");
        List<object?> items;
        if (obj is string s) items = [.. s.EnumerateRunes().Select(r => (object?)r.ToString())];
        else if (obj is List<object?> or object?[]) items = [.. Py.Items(obj)];
        else throw new InvalidOperationException($"'{Py.TypeName(obj)}' object is not subscriptable");
        int n = items.Count;
        long Clamp(long? v, long dflt, long lo, long hi)
        {
            if (v is not long x) return dflt;
            if (x < 0) x += n;
            return Math.Clamp(x, lo, hi);
        }
        var picked = new List<object?>();
        if (st > 0)
            for (long i = Clamp(start, 0, 0, n), end = Clamp(stop, n, 0, n); i < end; i += st) picked.Add(items[(int)i]);
        else
            for (long i = Clamp(start, n - 1, -1, n - 1), end = Clamp(stop, -1, -1, n - 1); i > end; i += st) picked.Add(items[(int)i]);
        return obj switch
        {
            string => string.Concat(picked.Select(p => (string)p!)),
            object?[] => picked.ToArray(),
            _ => picked,
        };
    }

    /// <summary>Follows a dotted path like <c>"function.name"</c> or <c>"0"</c> (filters' attribute= argument).</summary>
    public static object? GetAttrPath(object? obj, string path)
    {
        foreach (string part in path.Split('.'))
        {
            if (obj is Undefined) return obj;
            obj = long.TryParse(part, out long idx) ? GetItem(obj, idx) : GetItem(obj, part);
        }
        return obj;
    }

    private static JinjaCallable? Method(object? obj, string name)
    {
        JinjaCallable Bind(Func<JinjaArgs, object?> body) => new($"{Py.TypeName(obj)}.{name}", (p, k) => body(new JinjaArgs(name, p, k)));
        if (obj is string s)
        {
            return name switch
            {
                "strip" => Bind(a => Strip(s, a.String(0, "chars"), true, true)),
                "lstrip" => Bind(a => Strip(s, a.String(0, "chars"), true, false)),
                "rstrip" => Bind(a => Strip(s, a.String(0, "chars"), false, true)),
                "split" => Bind(a => Split(s, a.String(0, "sep"), a.Int(1, "maxsplit", -1) ?? -1)),
                "splitlines" => Bind(_ => s.Replace("\r\n", "\n").Split('\n').Select(x => (object?)x).SkipLast(s.EndsWith('\n') ? 1 : 0).ToList()),
                "startswith" => Bind(a => Affix(a.Required(0, "prefix"), p => s.StartsWith(p, StringComparison.Ordinal))),
                "endswith" => Bind(a => Affix(a.Required(0, "suffix"), p => s.EndsWith(p, StringComparison.Ordinal))),
                "upper" => Bind(_ => s.ToUpperInvariant()),
                "lower" => Bind(_ => s.ToLowerInvariant()),
                "title" => Bind(_ => Title(s)),
                "capitalize" => Bind(_ => s.Length == 0 ? s : s[..1].ToUpperInvariant() + s[1..].ToLowerInvariant()),
                "replace" => Bind(a => Replace(s, a.String(0, "old") ?? "", a.String(1, "new") ?? "", a.Int(2, "count"))),
                "find" => Bind(a => (long)s.IndexOf(a.String(0, "sub") ?? "", StringComparison.Ordinal)),
                "rfind" => Bind(a => (long)s.LastIndexOf(a.String(0, "sub") ?? "", StringComparison.Ordinal)),
                "count" => Bind(a => (long)CountOf(s, a.String(0, "sub") ?? "")),
                "join" => Bind(a => string.Join(s, Py.Iterate(a.Required(0, "iterable")).Select(Py.Str))),
                "isdigit" => Bind(_ => s.Length > 0 && s.All(char.IsDigit)),
                "isalpha" => Bind(_ => s.Length > 0 && s.All(char.IsLetter)),
                "isspace" => Bind(_ => s.Length > 0 && s.All(char.IsWhiteSpace)),
                _ => null,
            };
        }
        if (obj is OrderedDictionary<string, object?> d)
        {
            return name switch
            {
                "items" => Bind(_ => d.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList()),
                "keys" => Bind(_ => d.Keys.Select(k => (object?)k).ToList()),
                "values" => Bind(_ => d.Values.ToList()),
                "get" => Bind(a => a.Required(0, "key") is string key && d.TryGetValue(key, out object? v) ? v : a.Get(1, "default")),
                "update" or "pop" or "clear" or "setdefault" or "popitem" => throw Immutable(obj, name),
                _ => null,
            };
        }
        if (obj is List<object?> && name is "append" or "extend" or "insert" or "pop" or "remove" or "clear" or "sort" or "reverse")
            throw Immutable(obj, name);
        return null;
    }

    private static InvalidOperationException Immutable(object? obj, string name)
        => new($"access to {Py.TypeName(obj)}.{name} is not allowed: template values are immutable (as in transformers' sandbox)");

    private static bool Affix(object? arg, Func<string, bool> test) => arg switch
    {
        string p => test(p),
        object?[] or List<object?> => Py.Items(arg).Any(x => x is string p && test(p)),
        _ => throw new InvalidOperationException($"startswith/endswith argument must be str or a tuple of str, not {Py.TypeName(arg)}"),
    };

    /// <summary>Python's <c>str.strip([chars])</c>: whitespace when <paramref name="chars"/> is null.</summary>
    public static string Strip(string s, string? chars, bool left, bool right)
    {
        Func<char, bool> strip = chars is null ? char.IsWhiteSpace : chars.Contains;
        int a = 0, b = s.Length;
        if (left) while (a < b && strip(s[a])) a++;
        if (right) while (b > a && strip(s[b - 1])) b--;
        return s[a..b];
    }

    private static List<object?> Split(string s, string? sep, long maxsplit)
    {
        var parts = new List<object?>();
        if (sep is null)
        {
            // Runs of whitespace separate; leading/trailing whitespace gives no empty strings.
            int i = 0;
            while (true)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxsplit >= 0 && parts.Count == maxsplit) { parts.Add(s[i..].TrimEnd()); break; }
                int j = i;
                while (j < s.Length && !char.IsWhiteSpace(s[j])) j++;
                parts.Add(s[i..j]);
                i = j;
            }
            return parts;
        }
        if (sep.Length == 0) throw new InvalidOperationException("empty separator");
        int start = 0;
        while (maxsplit < 0 || parts.Count < maxsplit)
        {
            int k = s.IndexOf(sep, start, StringComparison.Ordinal);
            if (k < 0) break;
            parts.Add(s[start..k]);
            start = k + sep.Length;
        }
        parts.Add(s[start..]);
        return parts;
    }

    public static string Replace(string s, string old, string @new, long? count)
    {
        if (count is null || count < 0)
            return old.Length == 0 ? Interleave(s, @new, long.MaxValue) : s.Replace(old, @new, StringComparison.Ordinal);
        if (old.Length == 0) return Interleave(s, @new, count.Value);
        var sb = new StringBuilder();
        int pos = 0;
        for (long n = 0; n < count; n++)
        {
            int k = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (k < 0) break;
            sb.Append(s, pos, k - pos).Append(@new);
            pos = k + old.Length;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    // Python inserts the replacement before every character (and at the end) when the old string is empty.
    private static string Interleave(string s, string ins, long count)
    {
        var sb = new StringBuilder();
        long done = 0;
        foreach (Rune r in s.EnumerateRunes())
        {
            if (done++ < count) sb.Append(ins);
            sb.Append(r.ToString());
        }
        if (done < count) sb.Append(ins);
        return sb.ToString();
    }

    private static int CountOf(string s, string sub)
    {
        if (sub.Length == 0) return s.EnumerateRunes().Count() + 1;
        int n = 0;
        for (int k = s.IndexOf(sub, StringComparison.Ordinal); k >= 0; k = s.IndexOf(sub, k + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>Python's <c>str.title()</c>: a letter after a non-letter is upper-cased, other letters lower-cased.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool prevCased = false;
        foreach (char c in s)
        {
            sb.Append(prevCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            prevCased = char.IsLetter(c);
        }
        return sb.ToString();
    }
}
