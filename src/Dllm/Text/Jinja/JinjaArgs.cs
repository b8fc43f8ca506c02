namespace Dllm.Text.Jinja;

/// <summary>Reads the positional/keyword arguments of a filter, test, method or global as Python binds them.</summary>
internal readonly struct JinjaArgs(string callee, List<object?> args, Dictionary<string, object?> kwargs)
{
    public int Count => args.Count;

    /// <summary>Argument <paramref name="index"/> (positional) or <paramref name="name"/> (keyword), else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        if (index < args.Count)
        {
            if (kwargs.ContainsKey(name)) throw new InvalidOperationException($"{callee}() got multiple values for argument '{name}'");
            return args[index];
        }
        return kwargs.TryGetValue(name, out object? v) ? v : fallback;
    }

    public object? Required(int index, string name)
        => index < args.Count || kwargs.ContainsKey(name) ? Get(index, name)
            : throw new InvalidOperationException($"{callee}() missing required argument '{name}'");

    public string? String(int index, string name, string? fallback = null) => Get(index, name, fallback) switch
    {
        null => null,
        string s => s,
        Undefined => fallback,
        object o => throw new InvalidOperationException($"{callee}(): '{name}' must be a string, not {Py.TypeName(o)}"),
    };

    public bool Bool(int index, string name, bool fallback) => Py.Truthy(Get(index, name, fallback));

    public long? Int(int index, string name, long? fallback = null) => Get(index, name, fallback) switch
    {
        null => fallback,
        long l => l,
        bool b => b ? 1 : 0,
        object o => throw new InvalidOperationException($"{callee}(): '{name}' must be an integer, not {Py.TypeName(o)}"),
    };

    /// <summary>Rejects arguments beyond <paramref name="max"/> positional ones or keywords not in <paramref name="names"/>.</summary>
    public void Check(int max, params string[] names)
    {
        if (args.Count > max) throw new InvalidOperationException($"{callee}() takes at most {max} positional arguments ({args.Count} given)");
        foreach (string k in kwargs.Keys)
            if (!names.Contains(k)) throw new InvalidOperationException($"{callee}() got an unexpected keyword argument '{k}'");
    }
}
