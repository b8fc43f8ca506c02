using System.Globalization;
using System.Text;

namespace Dllm.Text.Jinja;

// Runtime values follow Python, because Hugging Face renders chat templates with Python's Jinja2:
// None = null, bool, int = long, float = double, str = string, list = List<object?>, tuple = object?[],
// dict = OrderedDictionary<string, object?>, plus the types below.

/// <summary>Jinja's default <c>Undefined</c>: renders as "", is false, iterates as empty; most operations on it fail.</summary>
internal sealed class Undefined(string name)
{
    /// <summary>What was looked up (for the error when it is used).</summary>
    public string Name { get; } = name;
}

/// <summary>The object <c>namespace(...)</c> returns: the one thing <c>{% set ns.x = ... %}</c> may assign to.</summary>
internal sealed class JinjaNamespace
{
    public Dictionary<string, object?> Values { get; } = new(StringComparer.Ordinal);
}

/// <summary>A function callable from a template: globals, macros, and bound methods like <c>"a b".split</c>.</summary>
internal delegate object? JinjaFunc(List<object?> args, Dictionary<string, object?> kwargs);

/// <summary>A named <see cref="JinjaFunc"/>.</summary>
internal sealed class JinjaCallable(string name, JinjaFunc fn)
{
    public string Name { get; } = name;
    public object? Invoke(List<object?> args, Dictionary<string, object?> kwargs) => fn(args, kwargs);
}

/// <summary>The <c>loop</c> variable of a for loop.</summary>
internal sealed class LoopInfo(IReadOnlyList<object?> items)
{
    public int Index0 { get; set; }

    /// <summary><c>loop.index</c>, <c>loop.first</c>... as Jinja defines them; Undefined for unknown names.</summary>
    public object? Get(string name) => name switch
    {
        "index" => (long)Index0 + 1,
        "index0" => (long)Index0,
        "revindex" => (long)(items.Count - Index0),
        "revindex0" => (long)(items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == items.Count - 1,
        "length" => (long)items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : new Undefined("loop.previtem"),
        "nextitem" => Index0 + 1 < items.Count ? items[Index0 + 1] : new Undefined("loop.nextitem"),
        "cycle" => new JinjaCallable("loop.cycle", (a, _) =>
            a.Count == 0 ? throw new InvalidOperationException("loop.cycle needs at least one argument") : a[Index0 % a.Count]),
        _ => new Undefined("loop." + name),
    };
}

/// <summary>Python semantics of the operations templates use: truth, str/repr, equality, ordering, arithmetic.</summary>
internal static class Py
{
    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        object?[] => "tuple",
        OrderedDictionary<string, object?> => "dict",
        JinjaNamespace => "Namespace",
        Undefined => "Undefined",
        JinjaCallable or LoopInfo => "function",
        _ => v.GetType().Name,
    };

    public static bool IsNumber(object? v) => v is long or double || v is bool;
    public static bool IsSequence(object? v) => v is List<object?> or object?[];

    public static IReadOnlyList<object?> Items(object? v) => v switch
    {
        List<object?> l => l,
        object?[] t => t,
        _ => throw new InvalidOperationException($"'{TypeName(v)}' is not a list"),
    };

    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        object?[] t => t.Length > 0,
        OrderedDictionary<string, object?> d => d.Count > 0,
        _ => true,
    };

    /// <summary>Python's <c>str()</c>, which is how <c>{{ value }}</c> prints (Undefined prints as "").</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(v),
    };

    /// <summary>Python's <c>repr()</c>: how values print inside lists and dicts.</summary>
    public static string Repr(object? v) => v switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        string s => StringRepr(s),
        List<object?> l => "[" + string.Join(", ", l.Select(Repr)) + "]",
        object?[] t => t.Length == 1 ? "(" + Repr(t[0]) + ",)" : "(" + string.Join(", ", t.Select(Repr)) + ")",
        OrderedDictionary<string, object?> d => "{" + string.Join(", ", d.Select(kv => StringRepr(kv.Key) + ": " + Repr(kv.Value))) + "}",
        JinjaNamespace ns => "<Namespace " + string.Join(", ", ns.Values.Select(kv => kv.Key + "=" + Repr(kv.Value))) + ">",
        Undefined => "",
        JinjaCallable c => $"<function {c.Name}>",
        _ => v.ToString() ?? "",
    };

    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (d == Math.Floor(d) && Math.Abs(d) < 1e16) return d.ToString("F1", CultureInfo.InvariantCulture);
        return d.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e");
    }

    private static string StringRepr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append(@"\\"); break;
                case '\n': sb.Append(@"\n"); break;
                case '\r': sb.Append(@"\r"); break;
                case '\t': sb.Append(@"\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7F) sb.Append($"\\x{(int)c:x2}");
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append(quote).ToString();
    }

    public static new bool Equals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a) == ToDouble(b);
        if (a is string sa && b is string sb) return sa == sb;
        if (IsSequence(a) && IsSequence(b) && a!.GetType() == b!.GetType())
        {
            IReadOnlyList<object?> la = Items(a), lb = Items(b);
            return la.Count == lb.Count && la.Zip(lb).All(p => Equals(p.First, p.Second));
        }
        if (a is OrderedDictionary<string, object?> da && b is OrderedDictionary<string, object?> db)
            return da.Count == db.Count && da.All(kv => db.TryGetValue(kv.Key, out object? o) && Equals(kv.Value, o));
        if (a is null || b is null) return a is null && b is null;
        return ReferenceEquals(a, b);
    }

    /// <summary>Ordering for &lt; &gt; and sort: numbers with numbers, strings with strings (by code point), lists lexicographically.</summary>
    public static int Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a).CompareTo(ToDouble(b));
        if (a is string sa && b is string sb) return string.CompareOrdinal(sa, sb);
        if (IsSequence(a) && IsSequence(b))
        {
            IReadOnlyList<object?> la = Items(a), lb = Items(b);
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                int c = Compare(la[i], lb[i]);
                if (c != 0) return c;
            }
            return la.Count.CompareTo(lb.Count);
        }
        throw new InvalidOperationException($"'<' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidOperationException($"'{TypeName(v)}' is not a number"),
    };

    private static long ToLong(object? v) => v is bool b ? (b ? 1 : 0) : (long)v!;

    private static InvalidOperationException OperandError(string op, object? a, object? b)
        => new($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");

    /// <summary>A binary arithmetic operator (+ - * / // % **) with Python's rules (int stays int; / gives float).</summary>
    public static object? Arithmetic(string op, object? a, object? b)
    {
        if (a is Undefined u1) throw new InvalidOperationException($"'{u1.Name}' is undefined");
        if (b is Undefined u2) throw new InvalidOperationException($"'{u2.Name}' is undefined");
        if (op == "+")
        {
            if (a is string s1 && b is string s2) return s1 + s2;
            if (IsSequence(a) && IsSequence(b) && a!.GetType() == b!.GetType())
                return a is List<object?> ? new List<object?>(Items(a).Concat(Items(b))) : Items(a).Concat(Items(b)).ToArray();
        }
        if (op == "*" && (a is string || IsSequence(a)) && b is long or bool) return Repeat(a, ToLong(b));
        if (op == "*" && (b is string || IsSequence(b)) && a is long or bool) return Repeat(b, ToLong(a));
        if (!IsNumber(a) || !IsNumber(b)) throw OperandError(op, a, b);
        bool ints = a is long or bool && b is long or bool;
        if (ints)
        {
            long x = ToLong(a), y = ToLong(b);
            switch (op)
            {
                case "+": return x + y;
                case "-": return x - y;
                case "*": return x * y;
                case "//": return y == 0 ? throw new DivideByZeroException("integer division by zero") : FloorDiv(x, y);
                case "%": return y == 0 ? throw new DivideByZeroException("integer modulo by zero") : x - FloorDiv(x, y) * y;
                case "**": if (y >= 0) return (long)Math.Pow(x, y); break;
            }
        }
        double p = ToDouble(a), q = ToDouble(b);
        return op switch
        {
            "+" => p + q,
            "-" => p - q,
            "*" => p * q,
            "/" => q == 0 ? throw new DivideByZeroException("division by zero") : p / q,
            "//" => q == 0 ? throw new DivideByZeroException("float floor division by zero") : Math.Floor(p / q),
            "%" => q == 0 ? throw new DivideByZeroException("float modulo") : p - Math.Floor(p / q) * q,
            "**" => Math.Pow(p, q),
            _ => throw OperandError(op, a, b),
        };
    }

    private static long FloorDiv(long x, long y) => x / y - ((x % y != 0 && (x < 0) != (y < 0)) ? 1 : 0);

    private static object Repeat(object? seq, long n)
    {
        if (seq is string s) return n <= 0 ? "" : string.Concat(Enumerable.Repeat(s, (int)n));
        var items = Enumerable.Range(0, (int)Math.Max(0, n)).SelectMany(_ => Items(seq));
        return seq is List<object?> ? new List<object?>(items) : items.ToArray();
    }

    /// <summary>Python's <c>item in container</c>.</summary>
    public static bool Contains(object? container, object? item) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        string => throw new InvalidOperationException($"'in <string>' requires string as left operand, not {TypeName(item)}"),
        List<object?> or object?[] => Items(container).Any(x => Equals(x, item)),
        OrderedDictionary<string, object?> d => item is string k && d.ContainsKey(k),
        Undefined => false,
        _ => throw new InvalidOperationException($"argument of type '{TypeName(container)}' is not iterable"),
    };

    /// <summary>What a for loop walks: list items, dict keys, string characters; Undefined is empty.</summary>
    public static IReadOnlyList<object?> Iterate(object? v) => v switch
    {
        List<object?> l => l,
        object?[] t => t,
        OrderedDictionary<string, object?> d => d.Keys.Cast<object?>().ToList(),
        string s => TextElements(s),
        Undefined => [],
        _ => throw new InvalidOperationException($"'{TypeName(v)}' object is not iterable"),
    };

    private static List<object?> TextElements(string s)
    {
        var list = new List<object?>();
        for (int i = 0; i < s.Length; i++)
            list.Add(char.IsHighSurrogate(s[i]) && i + 1 < s.Length ? s.Substring(i++, 2) : s[i].ToString());
        return list;
    }

    public static long Length(object? v) => v switch
    {
        string s => s.EnumerateRunes().Count(),
        List<object?> l => l.Count,
        object?[] t => t.Length,
        OrderedDictionary<string, object?> d => d.Count,
        Undefined => 0,
        _ => throw new InvalidOperationException($"object of type '{TypeName(v)}' has no len()"),
    };
}
