using System.Text;
using System.Text.Json;

namespace Dllm.Tests.Chat;

/// <summary>
/// An independent validator for the JSON Schema subset structured output supports (reads the raw schema, not
/// the server's parse), and a generator of random schemas in that subset.
/// </summary>
internal static class SchemaCheck
{
    /// <summary>Null when <paramref name="v"/> validates, else the first problem with its path.</summary>
    public static string? Validate(JsonElement v, JsonElement s, string path)
    {
        if (s.TryGetProperty("enum", out JsonElement e))
            return e.EnumerateArray().Any(c => JsonElement.DeepEquals(c, v)) ? null : $"{path}: {v.GetRawText()} is not one of {e.GetRawText()}";
        switch (s.GetProperty("type").GetString())
        {
            case "string": return v.ValueKind == JsonValueKind.String ? null : $"{path}: not a string";
            case "boolean": return v.ValueKind is JsonValueKind.True or JsonValueKind.False ? null : $"{path}: not a boolean";
            case "number": return v.ValueKind == JsonValueKind.Number ? null : $"{path}: not a number";
            case "integer": return v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out _) ? null : $"{path}: not an integer";
            case "array":
                if (v.ValueKind != JsonValueKind.Array) return $"{path}: not an array";
                int n = v.GetArrayLength();
                if (s.TryGetProperty("minItems", out JsonElement min) && n < min.GetInt32()) return $"{path}: {n} items < minItems";
                if (s.TryGetProperty("maxItems", out JsonElement max) && n > max.GetInt32()) return $"{path}: {n} items > maxItems";
                int i = 0;
                foreach (JsonElement item in v.EnumerateArray())
                    if (Validate(item, s.GetProperty("items"), $"{path}[{i++}]") is string bad) return bad;
                return null;
            case "object":
                if (v.ValueKind != JsonValueKind.Object) return $"{path}: not an object";
                JsonElement props = s.TryGetProperty("properties", out JsonElement p) ? p : default;
                if (s.TryGetProperty("required", out JsonElement req))
                    foreach (JsonElement r in req.EnumerateArray())
                        if (!v.TryGetProperty(r.GetString()!, out _)) return $"{path}: missing required {r.GetString()}";
                foreach (JsonProperty f in v.EnumerateObject())
                {
                    if (props.ValueKind != JsonValueKind.Object || !props.TryGetProperty(f.Name, out JsonElement fs))
                    {
                        if (s.TryGetProperty("additionalProperties", out JsonElement ap) && ap.ValueKind == JsonValueKind.False) return $"{path}: unexpected {f.Name}";
                        continue;
                    }
                    if (Validate(f.Value, fs, $"{path}.{f.Name}") is string bad) return bad;
                }
                return null;
            default: return $"{path}: unknown schema type";
        }
    }
}

/// <summary>Random schemas in the supported subset.</summary>
internal static class RandomSchemas
{
    private static readonly string[] Words = ["name", "age", "city", "ok", "tags", "score", "kind", "a b", "ünï", "q\"uote"];

    public static string Object(Random rng, int maxDepth)
    {
        var sb = new StringBuilder("{\"type\":\"object\",\"properties\":{");
        int n = rng.Next(5);
        var names = Words.OrderBy(_ => rng.Next()).Take(n).ToList();
        sb.Append(string.Join(",", names.Select(w => JsonSerializer.Serialize(w) + ":" + Value(rng, maxDepth - 1))));
        sb.Append("},\"required\":[").Append(string.Join(",", names.Where(_ => rng.Next(2) == 0).Select(w => JsonSerializer.Serialize(w)))).Append(']');
        if (rng.Next(2) == 0) sb.Append(",\"additionalProperties\":false");
        return sb.Append('}').ToString();
    }

    private static string Value(Random rng, int depth) => rng.Next(depth > 0 ? 8 : 6) switch
    {
        0 => "{\"type\":\"string\",\"description\":\"free text\"}",
        1 => "{\"type\":\"integer\"}",
        2 => "{\"type\":\"number\"}",
        3 => "{\"type\":\"boolean\"}",
        4 => "{\"enum\":[\"red\",\"green\",7,true,null,\"a \\\"q\\\"\"]}".Replace(",7", rng.Next(2) == 0 ? ",7" : ""),
        5 => $"{{\"type\":\"string\",\"enum\":[{string.Join(",", Words.Take(1 + rng.Next(4)).Select(w => JsonSerializer.Serialize(w)))}]}}",
        6 => $"{{\"type\":\"array\",\"items\":{Value(rng, depth - 1)}{(rng.Next(2) == 0 ? $",\"minItems\":{rng.Next(4)}" : "")}{(rng.Next(2) == 0 ? ",\"maxItems\":3" : "")}}}",
        _ => Object(rng, depth - 1),
    };
}
