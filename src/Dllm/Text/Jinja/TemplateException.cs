namespace Dllm.Text.Jinja;

/// <summary>
/// A chat template could not be parsed or rendered: bad syntax, an unsupported construct, a runtime type
/// error, or the template's own <c>raise_exception(...)</c>. The message starts with the template name and
/// the line ("tokenizer_config.json chat_template, line 12: ..."). Front ends report it in one line (the
/// server as a 400 when the template itself refused the conversation).
/// </summary>
public sealed class TemplateException : Exception
{
    /// <summary>Creates the exception; <paramref name="reason"/> is the message without the location.</summary>
    public TemplateException(string templateName, int line, string reason, Exception? inner = null)
        : base($"{templateName}, line {line}: {reason}", inner)
    {
        TemplateName = templateName;
        Line = line;
        Reason = reason;
    }

    /// <summary>The template's name as given to <see cref="JinjaTemplate.Parse"/>.</summary>
    public string TemplateName { get; }

    /// <summary>1-based line of the construct that failed.</summary>
    public int Line { get; }

    /// <summary>What went wrong, without the location.</summary>
    public string Reason { get; }

    /// <summary>True when the template itself called <c>raise_exception</c> (a refused conversation, not a bug).</summary>
    public bool RaisedByTemplate { get; init; }
}

/// <summary>An error found while parsing or evaluating, before the template name is attached.</summary>
internal sealed class JinjaError(int line, string reason) : Exception(reason)
{
    public int Line { get; } = line;
    public bool RaisedByTemplate { get; init; }
}
