using System.Collections;
using System.Text.Json;

namespace Dllm.Text.Jinja;

/// <summary>
/// A compiled Jinja template, rendered the way Hugging Face transformers renders chat templates: Python
/// Jinja2 semantics with <c>trim_blocks</c> and <c>lstrip_blocks</c>, autoescape off, loop controls
/// (<c>break</c>/<c>continue</c>), an immutable sandbox (no <c>list.append</c>), transformers' <c>tojson</c>,
/// <c>raise_exception</c> and <c>strftime_now</c>.
/// </summary>
/// <remarks>
/// <para>Covered: text, <c>{{ }}</c>, comments, whitespace control, if/elif/else, for (loop.index/index0/first/
/// last/length/revindex/previtem/nextitem/cycle, else, loop filter, unpacking), set (incl. namespace
/// attributes and block set), macros, raw, literals, arithmetic, comparisons, <c>in</c>, <c>not</c>, <c>~</c>,
/// conditional expressions, slicing, the common filters, tests and str/dict methods. Not covered:
/// include/extends/import, call blocks, filter blocks, recursive loops, autoescape.</para>
/// <para>A template is immutable after <see cref="Parse"/> and can be rendered concurrently.</para>
/// </remarks>
public sealed class JinjaTemplate
{
    private readonly List<Node> _nodes;

    private JinjaTemplate(string name, string source, List<Node> nodes)
    {
        Name = name;
        Source = source;
        _nodes = nodes;
    }

    /// <summary>The name used in error messages (e.g. "tokenizer_config.json chat_template").</summary>
    public string Name { get; }

    /// <summary>The template source.</summary>
    public string Source { get; }

    /// <summary>Parses <paramref name="source"/>.</summary>
    /// <exception cref="TemplateException">A syntax error; the message names <paramref name="name"/> and the line.</exception>
    public static JinjaTemplate Parse(string source, string name = "template")
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(name);
        try
        {
            return new JinjaTemplate(name, source, JinjaParser.Parse(source));
        }
        catch (JinjaError e)
        {
            throw new TemplateException(name, e.Line, e.Message, e);
        }
    }

    /// <summary>
    /// Renders the template with <paramref name="variables"/>. Values may be null, bool, integers, floating
    /// point numbers, strings, <see cref="JsonElement"/>s, string-keyed dictionaries and other sequences
    /// (nested freely); they are converted to their Python counterparts.
    /// </summary>
    /// <param name="variables">Template variables (e.g. <c>messages</c>, <c>add_generation_prompt</c>, <c>bos_token</c>).</param>
    /// <param name="time">Clock for <c>strftime_now</c>; the system clock when null.</param>
    /// <exception cref="TemplateException">A runtime error or <c>raise_exception</c>, naming the template and line.</exception>
    /// <exception cref="ArgumentException">A variable of a type that has no template counterpart.</exception>
    public string Render(IReadOnlyDictionary<string, object?> variables, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var converted = variables.ToDictionary(kv => kv.Key, kv => Convert(kv.Value, kv.Key), StringComparer.Ordinal);
        try
        {
            return new JinjaInterpreter(converted, time ?? TimeProvider.System).Render(_nodes);
        }
        catch (JinjaError e)
        {
            throw new TemplateException(Name, e.Line, e.Message, e) { RaisedByTemplate = e.RaisedByTemplate };
        }
    }

    /// <summary>.NET value to the template's Python-like value model.</summary>
    internal static object? Convert(object? v, string path) => v switch
    {
        null or bool or string or long or double => v,
        int or short or byte or sbyte or ushort or uint => System.Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture),
        float f => (double)f,
        decimal m => (double)m,
        JsonElement j => FromJson(j),
        IDictionary d => ToDict(d, path),
        IEnumerable e => e.Cast<object?>().Select((x, i) => Convert(x, $"{path}[{i}]")).ToList(),
        _ => throw new ArgumentException($"template variable {path} has type {v.GetType().Name}, which templates cannot use", nameof(v)),
    };

    private static OrderedDictionary<string, object?> ToDict(IDictionary d, string path)
    {
        var result = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (DictionaryEntry kv in d)
        {
            if (kv.Key is not string key) throw new ArgumentException($"template variable {path} has a non-string key", nameof(d));
            result[key] = Convert(kv.Value, $"{path}.{key}");
        }
        return result;
    }

    private static object? FromJson(JsonElement j) => j.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => j.GetString(),
        JsonValueKind.Number => j.TryGetInt64(out long l) ? l : (object)j.GetDouble(), // 3 stays an int, 3.5 a float
        JsonValueKind.Array => j.EnumerateArray().Select(FromJson).ToList(),
        _ => new OrderedDictionary<string, object?>(j.EnumerateObject().Select(p => KeyValuePair.Create(p.Name, FromJson(p.Value))), StringComparer.Ordinal),
    };
}
