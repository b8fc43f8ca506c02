using System.Globalization;

namespace Dllm.Sampling;

/// <summary>
/// A decoding knob the caller got wrong: a value out of range or of the wrong type, an unknown name, or two
/// knobs that conflict. <see cref="Knob"/> names the knob at fault as data (its canonical snake_case name,
/// e.g. <c>block_length</c>), so each front end reports it its own way without reading the message:
/// <see cref="Spell"/> writes the message with every knob it mentions spelled by the caller (the CLI:
/// <c>--block-length</c>); <see cref="Exception.Message"/> uses the canonical names, which are also the JSON
/// fields of a server request and the names chat's <c>/set</c> takes.
/// </summary>
/// <remarks>It is an <see cref="ArgumentException"/>, so code that turns argument errors into user errors
/// handles it unchanged; its message carries no "(Parameter ...)" suffix.</remarks>
public sealed class DecodingOptionException : ArgumentException
{
    private readonly FormattableString _text;

    /// <param name="knob">The knob at fault.</param>
    /// <param name="text">The message; its <see cref="KnobName"/> arguments are spelled by <see cref="Spell"/>,
    /// the others formatted with the invariant culture.</param>
    internal DecodingOptionException(KnobName knob, FormattableString text)
    {
        Knob = knob.Name;
        _text = text;
    }

    /// <summary>The knob at fault, snake_case (<c>steps</c>); for an unknown name, the name as given.</summary>
    public string Knob { get; }

    /// <inheritdoc/>
    public override string Message => Spell(name => name);

    /// <summary>The message with each knob it mentions written as <paramref name="spelling"/> writes a canonical name.</summary>
    public string Spell(Func<string, string> spelling)
    {
        ArgumentNullException.ThrowIfNull(spelling);
        object?[] args = [.. _text.GetArguments()]; // a copy: GetArguments returns the string's own array
        for (int i = 0; i < args.Length; i++)
            if (args[i] is KnobName k) args[i] = spelling(k.Name);
        return string.Format(CultureInfo.InvariantCulture, _text.Format, args);
    }
}
