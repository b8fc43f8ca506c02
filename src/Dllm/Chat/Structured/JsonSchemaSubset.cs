using System.Text.Json;

namespace Dllm.Chat.Structured;

/// <summary>What a value must be, in the subset of JSON Schema that structured output supports.</summary>
public enum SchemaKind { Object, String, Integer, Number, Boolean, Enum, Array }

/// <summary>
/// One node of a parsed schema: an object (its properties, in the schema's order), a string, an integer, a
/// number, a boolean, an enum (the JSON texts of its values) or an array (its item schema and length bounds).
/// </summary>
public sealed record SchemaNode(SchemaKind Kind)
{
    /// <summary>Object: the properties in the schema's order (every one is written, required or not).</summary>
    public IReadOnlyList<(string Name, SchemaNode Schema)> Properties { get; init; } = [];
    /// <summary>Enum: each value as compact JSON text (<c>"red"</c>, <c>3</c>, <c>true</c>, <c>null</c>).</summary>
    public IReadOnlyList<string> Choices { get; init; } = [];
    /// <summary>Array: the item schema.</summary>
    public SchemaNode? Items { get; init; }
    /// <summary>Array: minItems / maxItems (0 / null when absent).</summary>
    public int MinItems { get; init; }
    public int? MaxItems { get; init; }
}

/// <summary>
/// Reads the supported subset of JSON Schema (OpenAI <c>response_format.json_schema.schema</c>, a tool's
/// <c>parameters</c>): <c>type</c> object / string / integer / number / boolean / array, <c>properties</c>,
/// <c>required</c>, <c>enum</c>, <c>items</c>, <c>minItems</c>, <c>maxItems</c>, plus the annotations
/// <c>title</c>, <c>description</c>, <c>additionalProperties</c> (only false or absent: only the listed
/// properties are ever written), <c>$schema</c>, <c>strict</c>. Anything else (pattern, minimum, anyOf, $ref,
/// format, null types...) is refused with the path of the keyword, never silently ignored: an answer must
/// validate against the schema the client sent.
/// </summary>
public static class JsonSchemaSubset
{
    private static readonly HashSet<string> Annotations = ["title", "description", "$schema", "strict", "examples", "default"];

    /// <summary>Maximum nesting of objects and arrays (a canvas is finite).</summary>
    public const int MaxDepth = 8;

    /// <summary>Parses <paramref name="schema"/>; <paramref name="path"/> prefixes error messages (e.g. "response_format.json_schema.schema").</summary>
    /// <exception cref="InvalidRequestException">An unsupported keyword or type, a malformed value, or nesting deeper than <see cref="MaxDepth"/>;
    /// the message and <see cref="InvalidRequestException.Field"/> name the path.</exception>
    public static SchemaNode Parse(JsonElement schema, string path) => Node(schema, path, 0);

    private static SchemaNode Node(JsonElement s, string path, int depth)
    {
        if (depth > MaxDepth) throw Bad(path, $"nests deeper than {MaxDepth} levels");
        if (s.ValueKind != JsonValueKind.Object) throw Bad(path, "must be a schema object");
        foreach (JsonProperty p in s.EnumerateObject())
            if (!Annotations.Contains(p.Name) && p.Name is not ("type" or "properties" or "required" or "enum" or "items" or "minItems" or "maxItems" or "additionalProperties"))
                throw Bad($"{path}.{p.Name}", $"the JSON Schema keyword '{p.Name}' is not supported (supported: type, properties, required, enum, items, minItems, maxItems, additionalProperties: false)");
        if (s.TryGetProperty("enum", out JsonElement e))
        {
            if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() == 0) throw Bad(path + ".enum", "must be a non-empty array");
            var choices = new List<string>();
            foreach (JsonElement v in e.EnumerateArray())
            {
                if (v.ValueKind is JsonValueKind.Object or JsonValueKind.Array) throw Bad(path + ".enum", "only strings, numbers, booleans and null are supported as enum values");
                string text = JsonSerializer.Serialize(v);
                if (!choices.Contains(text)) choices.Add(text);
            }
            return new SchemaNode(SchemaKind.Enum) { Choices = choices };
        }
        if (!s.TryGetProperty("type", out JsonElement t) || t.ValueKind != JsonValueKind.String)
            throw Bad(path + ".type", "a schema needs \"type\" (object, string, integer, number, boolean or array) or \"enum\"");
        switch (t.GetString())
        {
            case "string": return new SchemaNode(SchemaKind.String);
            case "integer": return new SchemaNode(SchemaKind.Integer);
            case "number": return new SchemaNode(SchemaKind.Number);
            case "boolean": return new SchemaNode(SchemaKind.Boolean);
            case "array":
            {
                if (!s.TryGetProperty("items", out JsonElement items)) throw Bad(path + ".items", "an array schema needs \"items\"");
                int min = Count(s, "minItems", path) ?? 0;
                int? max = Count(s, "maxItems", path);
                if (max < min) throw Bad(path + ".maxItems", $"is less than minItems ({min})");
                if (min > 64) throw Bad(path + ".minItems", "more than 64 items is not supported");
                return new SchemaNode(SchemaKind.Array) { Items = Node(items, path + ".items", depth + 1), MinItems = min, MaxItems = max };
            }
            case "object":
            {
                if (s.TryGetProperty("additionalProperties", out JsonElement ap) && ap.ValueKind != JsonValueKind.False)
                    throw Bad(path + ".additionalProperties", "only false is supported (the answer has exactly the listed properties)");
                var props = new List<(string, SchemaNode)>();
                if (s.TryGetProperty("properties", out JsonElement ps))
                {
                    if (ps.ValueKind != JsonValueKind.Object) throw Bad(path + ".properties", "must be an object");
                    foreach (JsonProperty p in ps.EnumerateObject()) props.Add((p.Name, Node(p.Value, $"{path}.properties.{p.Name}", depth + 1)));
                }
                if (s.TryGetProperty("required", out JsonElement req))
                {
                    if (req.ValueKind != JsonValueKind.Array) throw Bad(path + ".required", "must be an array of property names");
                    foreach (JsonElement r in req.EnumerateArray())
                        if (r.ValueKind != JsonValueKind.String || !props.Any(p => p.Item1 == r.GetString()))
                            throw Bad(path + ".required", $"names {r.GetRawText()}, which is not a listed property");
                }
                return new SchemaNode(SchemaKind.Object) { Properties = props };
            }
            default: throw Bad(path + ".type", $"type '{t.GetString()}' is not supported (object, string, integer, number, boolean or array)");
        }
    }

    private static int? Count(JsonElement s, string name, string path)
    {
        if (!s.TryGetProperty(name, out JsonElement v)) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int n) || n < 0) throw Bad($"{path}.{name}", "must be a non-negative integer");
        return n;
    }

    private static InvalidRequestException Bad(string path, string what) => new($"{path}: {what}", path);
}
