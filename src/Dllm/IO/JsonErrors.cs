using System.Text.Json;

namespace Dllm.IO;

/// <summary>
/// Turns what System.Text.Json throws on bad content into the one error every Dllm reader reports:
/// an <see cref="InvalidDataException"/> whose message is one line that names the file (and line or
/// field, where the caller knows it).
/// </summary>
/// <remarks>
/// Besides <see cref="JsonException"/> (syntax, or a typed read of the wrong JSON type), a
/// <see cref="JsonElement"/> read throws <see cref="InvalidOperationException"/> for a value of another
/// kind than asked and for a string whose <c>\u</c> escapes are not valid UTF-16 (a lone surrogate,
/// which JSON allows and .NET strings cannot be decoded from). Its messages quote the offending text,
/// which may span lines.
/// </remarks>
internal static class JsonErrors
{
    /// <summary>The message on one line (line breaks in quoted text shown as ⏎).</summary>
    public static string OneLine(string message) => message.ReplaceLineEndings(" ⏎ ");

    /// <summary>The error for <paramref name="e"/> met while reading <paramref name="where"/>.</summary>
    public static InvalidDataException Describe(string where, Exception e) => e switch
    {
        JsonException => new InvalidDataException($"{where}: not valid JSON: {OneLine(e.Message)}", e),
        InvalidOperationException when e.Message.Contains("UTF-16", StringComparison.Ordinal) || e.Message.Contains("UTF-8", StringComparison.Ordinal)
            => new InvalidDataException($"{where}: a string is not valid Unicode (an invalid \\u escape or invalid UTF-8): {OneLine(e.Message)}", e),
        _ => new InvalidDataException($"{where}: unexpected JSON value: {OneLine(e.Message)}", e),
    };

    /// <summary>True for the exceptions <see cref="Describe"/> turns into a content error.</summary>
    public static bool IsContentError(Exception e) => e is JsonException or InvalidOperationException or FormatException;

    /// <summary>
    /// Reads every property name and string of <paramref name="e"/> once, so that a string that cannot
    /// be decoded (a lone surrogate escape) is reported here, naming <paramref name="where"/>, and not by
    /// whatever code reads it later (<see cref="JsonStrings.FirstUndecodable"/>). For small documents (a JSONL line, a descriptor).
    /// </summary>
    /// <exception cref="InvalidDataException">A name or string is not valid Unicode.</exception>
    public static void CheckStrings(JsonElement e, string where)
    {
        if (JsonStrings.FirstUndecodable(e, out bool isName) is string path)
            throw new InvalidDataException($"{where}: {(isName ? "a field name" : "a string")}{(path.Length > 0 ? $" at {path}" : "")} is not valid Unicode (an invalid \\u escape, e.g. a lone surrogate)");
    }

    /// <summary>Runs <paramref name="read"/>, reporting content errors as <see cref="Describe"/> does.</summary>
    public static T Read<T>(string where, Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (IsContentError(e)) { throw Describe(where, e); }
    }
}
