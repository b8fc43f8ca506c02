using System.Text.Json;

namespace Dllm.IO;

/// <summary>
/// JSON Lines files (one JSON object per line), as every data file of Dllm is: pre-training text
/// (<c>{"text"}</c>), SFT pairs and chats, task sets. One reader so that every format reports bad
/// input the same way, naming the file and the 1-based line: <c>data.jsonl:7: invalid JSON: ...</c>.
/// </summary>
/// <remarks>Blank (white-space) lines are skipped. Lines are parsed one at a time (files are streamed).
/// The <see cref="JsonElement"/>s yielded stay valid after the enumeration moves on.</remarks>
public static class JsonLines
{
    /// <summary>The objects of a JSONL file with their "path:line" location, for messages.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line is not valid JSON or not a JSON object (names path:line).</exception>
    public static IEnumerable<(JsonElement Object, string Where)> Objects(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"data file '{path}' does not exist", path);
        InputFile.Require(path, "data file");
        TextFileCheck.Require(File.ReadAllBytes(path), path, tolerate: false); // JSON is UTF-8 throughout
        return Read(path);

        static IEnumerable<(JsonElement, string)> Read(string path)
        {
            int lineNo = 0;
            foreach (string line in File.ReadLines(path))
            {
                lineNo++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                string where = $"{path}:{lineNo}";
                JsonElement e;
                try { e = JsonDocument.Parse(line).RootElement; }
                catch (JsonException x) { throw new InvalidDataException($"{where}: invalid JSON: {JsonErrors.OneLine(x.Message)}"); }
                if (e.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: expected a JSON object");
                JsonErrors.CheckStrings(e, where);
                yield return (e, where);
            }
        }
    }

    /// <summary>The string field <paramref name="name"/> of <paramref name="e"/>.</summary>
    /// <exception cref="InvalidDataException">Missing or not a string (names <paramref name="where"/>).</exception>
    public static string RequiredString(JsonElement e, string name, string where)
        => OptionalString(e, name, where) ?? throw new InvalidDataException($"{where}: missing string field \"{name}\"");

    /// <summary>The string field <paramref name="name"/> of <paramref name="e"/>, or null when it is missing or not a
    /// string, or when <paramref name="e"/> is not an object (e.g. a number inside a "messages" array).</summary>
    /// <exception cref="InvalidDataException">The string is not valid Unicode (a lone surrogate escape).</exception>
    public static string? OptionalString(JsonElement e, string name, string? where = null)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out JsonElement v) || v.ValueKind != JsonValueKind.String) return null;
        try { return v.GetString(); }
        catch (InvalidOperationException x) { throw new InvalidDataException($"{where ?? "JSON"}: field \"{name}\" is not valid Unicode text: {JsonErrors.OneLine(x.Message)}", x); }
    }
}
