using System.Text.Json;
using Dllm.Chat;
using Dllm.Chat.Structured;

namespace Dllm.Cli.Serving;

/// <summary>A function the client offers (OpenAI <c>tools[i].function</c>), with its parsed parameters schema.</summary>
internal sealed record ToolSpec(string Name, string? Description, SchemaNode Parameters);

/// <summary>
/// What shape a chat answer must have: free text, JSON for a schema (<c>response_format</c>), or a call of one of
/// the offered functions (<c>tools</c> + <c>tool_choice</c>). Read strictly from the request (errors name the field).
/// </summary>
/// <remarks>
/// <c>json_object</c> has no schema to lay out, so it is served as the object <c>{"text": string}</c> (valid JSON
/// object, as asked; a documented approximation). With tools, <c>tool_choice</c> "auto" is served as
/// "required": the answer is always a call (the model does not decide between text and a call); "none" answers
/// in text.
/// </remarks>
internal sealed record OutputFormat
{
    /// <summary>response_format json_object / json_schema: the answer's schema; null = free text.</summary>
    public SchemaNode? Schema { get; init; }
    /// <summary>The functions offered (empty when none, or when tool_choice is "none").</summary>
    public IReadOnlyList<ToolSpec> Tools { get; init; } = [];
    /// <summary>tool_choice naming one function, or null.</summary>
    public string? ForcedTool { get; init; }

    /// <summary>The answer is a tool call.</summary>
    public bool CallsTool => Tools.Count > 0;

    public static readonly SchemaNode JsonObject = new(SchemaKind.Object) { Properties = [("text", new SchemaNode(SchemaKind.String))] };

    /// <summary>response_format: {"type": "text" | "json_object" | "json_schema", "json_schema": {"name", "schema", "strict", "description"}}.</summary>
    public static SchemaNode? ReadResponseFormat(JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Object || !v.TryGetProperty("type", out JsonElement t) || t.ValueKind != JsonValueKind.String)
            throw ApiError.BadRequest("response_format must be an object with a \"type\" (text, json_object or json_schema)", "response_format");
        switch (t.GetString())
        {
            case "text": return null;
            case "json_object": return JsonObject;
            case "json_schema":
                if (!v.TryGetProperty("json_schema", out JsonElement js) || js.ValueKind != JsonValueKind.Object)
                    throw ApiError.BadRequest("response_format.json_schema must be an object with \"name\" and \"schema\"", "response_format.json_schema");
                if (!js.TryGetProperty("schema", out JsonElement schema))
                    return JsonObject; // OpenAI allows omitting the schema: any object
                return Parse(schema, "response_format.json_schema.schema");
            default: throw ApiError.BadRequest($"response_format.type '{t.GetString()}' is not supported (text, json_object or json_schema)", "response_format.type");
        }
    }

    /// <summary>tools: [{"type": "function", "function": {"name", "description", "parameters", "strict"}}].</summary>
    public static List<ToolSpec> ReadTools(JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.Null) return [];
        if (v.ValueKind != JsonValueKind.Array) throw ApiError.BadRequest("tools must be an array of {\"type\": \"function\", \"function\": {...}}", "tools");
        var list = new List<ToolSpec>();
        int i = 0;
        foreach (JsonElement tool in v.EnumerateArray())
        {
            string at = $"tools[{i++}]";
            if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetProperty("type", out JsonElement t) || t.ValueKind != JsonValueKind.String || t.GetString() != "function"
                || !tool.TryGetProperty("function", out JsonElement f) || f.ValueKind != JsonValueKind.Object)
                throw ApiError.BadRequest($"{at} must be {{\"type\": \"function\", \"function\": {{...}}}}", at);
            if (!f.TryGetProperty("name", out JsonElement n) || n.ValueKind != JsonValueKind.String || n.GetString()!.Length == 0)
                throw ApiError.BadRequest($"{at}.function.name must be a non-empty string", at + ".function.name");
            string name = n.GetString()!;
            if (list.Any(x => x.Name == name)) throw ApiError.BadRequest($"{at}.function.name '{name}' is offered twice", at + ".function.name");
            string? description = f.TryGetProperty("description", out JsonElement d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
            bool hasParameters = f.TryGetProperty("parameters", out JsonElement p) && p.ValueKind != JsonValueKind.Null;
            SchemaNode parameters = hasParameters ? Parse(p, at + ".function.parameters") : new SchemaNode(SchemaKind.Object);
            list.Add(new ToolSpec(name, description, parameters));
        }
        return list;
    }

    /// <summary>tool_choice: "none" | "auto" | "required" | {"type": "function", "function": {"name"}}; returns (none?, forced name).</summary>
    public static (bool None, string? Forced) ReadToolChoice(JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.Null) return (false, null);
        if (v.ValueKind == JsonValueKind.String)
            return v.GetString() switch
            {
                "none" => (true, null),
                "auto" or "required" => (false, null),
                var s => throw ApiError.BadRequest($"tool_choice '{s}' is not supported (none, auto, required or a function)", "tool_choice"),
            };
        if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("function", out JsonElement f) && f.ValueKind == JsonValueKind.Object
            && f.TryGetProperty("name", out JsonElement n) && n.ValueKind == JsonValueKind.String)
            return (false, n.GetString());
        throw ApiError.BadRequest("tool_choice must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}", "tool_choice");
    }

    /// <summary>The system text that tells the model which functions it may call (prepended to the conversation).</summary>
    public string ToolPrompt()
    {
        // Compact (name, parameter names, description): the template lays out the parameters' keys and types anyway.
        var sb = new System.Text.StringBuilder("You can call these functions; answer with one call.\n");
        foreach (ToolSpec t in Tools)
            sb.Append($"- {t.Name}({string.Join(", ", t.Parameters.Properties.Select(p => p.Name))}){(t.Description is null ? "" : ": " + t.Description)}\n");
        return sb.ToString();
    }

    private static SchemaNode Parse(JsonElement schema, string path)
    {
        try { return JsonSchemaSubset.Parse(schema, path); }
        catch (InvalidRequestException e) { throw ApiError.BadRequest(e.Message, e.Field); }
    }
}
