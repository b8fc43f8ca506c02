namespace Dllm.Text.Jinja;

/// <summary>The Jinja2 built-in tests (<c>x is defined</c>, <c>x is string</c>, <c>n is divisibleby 3</c>...).</summary>
internal static class JinjaTests
{
    public static bool Apply(string name, object? v, List<object?> args)
    {
        object? Arg() => args.Count > 0 ? args[0] : throw new InvalidOperationException($"test '{name}' needs an argument");
        return name switch
        {
            "defined" => v is not Undefined,
            "undefined" => v is Undefined,
            "none" => v is null,
            "boolean" => v is bool,
            "true" => v is true,
            "false" => v is false,
            "integer" => v is long,
            "float" => v is double,
            "number" => v is long or double or bool,
            "string" => v is string,
            "mapping" => v is OrderedDictionary<string, object?> or JinjaNamespace,
            "iterable" => v is string or List<object?> or object?[] or OrderedDictionary<string, object?>,
            "sequence" => v is string or List<object?> or object?[] or OrderedDictionary<string, object?>,
            "callable" => v is JinjaCallable,
            "odd" => v is long l && Math.Abs(l % 2) == 1,
            "even" => v is long l2 && l2 % 2 == 0,
            "divisibleby" => Py.ToDouble(v) % Py.ToDouble(Arg()) == 0,
            "eq" or "equalto" or "==" => Py.Equals(v, Arg()),
            "ne" or "!=" => !Py.Equals(v, Arg()),
            "lt" or "lessthan" or "<" => Py.Compare(v, Arg()) < 0,
            "le" or "<=" => Py.Compare(v, Arg()) <= 0,
            "gt" or "greaterthan" or ">" => Py.Compare(v, Arg()) > 0,
            "ge" or ">=" => Py.Compare(v, Arg()) >= 0,
            "in" => Py.Contains(Arg(), v),
            "lower" => v is string s && s == s.ToLowerInvariant(),
            "upper" => v is string u && u == u.ToUpperInvariant(),
            "sameas" => ReferenceEquals(v, Arg()) || (v is null && Arg() is null) || (v is bool b && Arg() is bool c && b == c),
            "escaped" => false,
            _ => throw new InvalidOperationException($"no test named '{name}'"),
        };
    }
}
