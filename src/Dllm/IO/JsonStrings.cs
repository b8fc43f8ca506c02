using System.Text.Json;

namespace Dllm.IO;

/// <summary>
/// JSON allows <c>\u</c> escapes that no .NET string can hold (a lone surrogate such as <c>"\ud800"</c>);
/// reading one later throws from wherever it is read. This finds the first such name or string of a
/// document up front, with its path, so a reader (a JSONL line, a request body) can name it.
/// </summary>
public static class JsonStrings
{
    /// <summary>
    /// The path of the first name or string of <paramref name="e"/> that cannot be decoded
    /// (<c>messages[0].content</c>; "" for <paramref name="e"/> itself; a name's path is its object's,
    /// with <paramref name="isName"/> true), or null when every one decodes.
    /// </summary>
    public static string? FirstUndecodable(JsonElement e, out bool isName) => Find(e, "", out isName);

    private static string? Find(JsonElement e, string path, out bool isName)
    {
        isName = false;
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                try { _ = e.GetString(); }
                catch (InvalidOperationException) { return path; }
                return null;
            case JsonValueKind.Array:
                int i = 0;
                foreach (JsonElement x in e.EnumerateArray())
                    if (Find(x, $"{path}[{i++}]", out isName) is string bad) return bad;
                return null;
            case JsonValueKind.Object:
                foreach (JsonProperty p in e.EnumerateObject())
                {
                    string name;
                    try { name = p.Name; }
                    catch (InvalidOperationException) { isName = true; return path; }
                    if (Find(p.Value, path.Length == 0 ? name : $"{path}.{name}", out isName) is string bad) return bad;
                }
                return null;
            default:
                return null;
        }
    }
}
