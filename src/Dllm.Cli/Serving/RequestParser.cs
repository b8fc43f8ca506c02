using System.Text.Json;
using Dllm.Chat;
using Dllm.IO;
using Dllm.Text;

namespace Dllm.Cli.Serving;

/// <summary>Which OpenAI endpoint a request came to.</summary>
internal enum RequestKind { Chat, Text }

/// <summary>A validated request: the prompt, the knobs and how to answer.</summary>
internal sealed class ParsedRequest
{
    public required RequestKind Kind { get; init; }
    public required string Model { get; init; }
    /// <summary>Chat: the conversation.</summary>
    public List<ChatMessage>? Messages { get; init; }
    /// <summary>Completions: the prompt text, or null when given as token ids.</summary>
    public string? Prompt { get; init; }
    /// <summary>Completions: the prompt as token ids, or null when given as text.</summary>
    public int[]? PromptIds { get; init; }
    public required DecodingKnobs Knobs { get; init; }
    public bool Stream { get; init; }
    /// <summary>stream_options.include_usage: a last chunk with usage and no choices.</summary>
    public bool IncludeUsage { get; init; }
    /// <summary>Dllm extension <c>"dllm_canvas": true</c>: SSE events with the canvas after every step.</summary>
    public bool StreamCanvas { get; init; }
    public string[] Stop { get; init; } = [];
    /// <summary>Completions only: the text after the hole (fill in the middle); null for a plain completion.</summary>
    public string? Suffix { get; init; }
    /// <summary>Chat: the answer's shape (response_format, tools, tool_choice).</summary>
    public OutputFormat Format { get; init; } = new();
    /// <summary>The field the prompt came in ("messages" or "prompt"), for errors.</summary>
    public string PromptField => Kind == RequestKind.Chat ? "messages" : "prompt";
}

/// <summary>
/// Reads an OpenAI chat or completions request body, strictly: every field must have OpenAI's type, unknown
/// fields are refused (as OpenAI does: a typo must not be silently ignored), features a diffusion model does
/// not have (n &gt; 1, logprobs, penalties, top_p &lt; 1) are refused by name; <c>response_format</c>, <c>tools</c> and
/// <c>tool_choice</c> (chat) are read by <see cref="OutputFormat"/>. The diffusion knobs
/// (<see cref="DecodingKnobs.Names"/>) are accepted as extra fields. Errors are 400 <see cref="ApiError"/>s
/// naming the field; an unknown model is 404.
/// </summary>
internal static class RequestParser
{
    // Accepted and ignored: they do not change the answer.
    private static readonly HashSet<string> Ignored = ["user", "metadata", "store", "service_tier", "parallel_tool_calls"];

    public static ParsedRequest Parse(JsonElement root, RequestKind kind, ServerSettings settings)
    {
        if (root.ValueKind != JsonValueKind.Object) throw ApiError.BadRequest($"the request body must be a JSON object, got {Kind(root)}");
        // A \ud800-style escape no .NET string can hold would be a 500 wherever it is read later: a 400 naming it now.
        if (JsonStrings.FirstUndecodable(root, out bool isName) is string bad)
            throw isName
                ? ApiError.BadRequest($"a field name{(bad.Length == 0 ? "" : $" in {bad}")} is not valid Unicode text (a lone surrogate escape)", bad.Length == 0 ? null : bad)
                : ApiError.BadRequest($"{(bad.Length == 0 ? "a string" : bad)} is not valid Unicode text (a lone surrogate escape)", bad.Length == 0 ? null : bad);
        DecodingKnobs knobs = settings.Defaults.Clone();
        string? model = null;
        List<ChatMessage>? messages = null;
        string? prompt = null;
        int[]? promptIds = null;
        bool stream = false, includeUsage = false, canvas = false;
        string[] stop = [];
        string? suffix = null;
        bool sawMessages = false, sawPrompt = false, noTools = false;
        Dllm.Chat.Structured.SchemaNode? schema = null;
        List<ToolSpec> tools = [];
        string? forcedTool = null;

        foreach (JsonProperty p in root.EnumerateObject())
        {
            JsonElement v = p.Value;
            switch (p.Name)
            {
                case "model": model = String(v, "model"); break;
                case "messages" when kind == RequestKind.Chat: messages = Messages(v, settings.MaxMessages); sawMessages = true; break;
                case "prompt" when kind == RequestKind.Text: (prompt, promptIds) = Prompt(v); sawPrompt = true; break;
                case "suffix" when kind == RequestKind.Text: suffix = v.ValueKind == JsonValueKind.Null ? null : String(v, "suffix"); break;
                case "max_tokens" or "max_completion_tokens":
                    if (v.ValueKind != JsonValueKind.Null) knobs.Set("max_tokens", v);
                    break;
                case "stream": stream = Bool(v, "stream"); break;
                case "stream_options":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (v.ValueKind != JsonValueKind.Object) throw ApiError.BadRequest($"stream_options must be an object, got {Kind(v)}", "stream_options");
                    foreach (JsonProperty o in v.EnumerateObject())
                    {
                        if (o.Name == "include_usage") includeUsage = Bool(o.Value, "stream_options.include_usage");
                        else throw ApiError.BadRequest($"unrecognized field stream_options.{o.Name}", "stream_options");
                    }
                    break;
                case "stop": stop = Stop(v); break;
                case "n" or "best_of": RequireDefault(v, p.Name, 1, "a diffusion model here returns one answer per request"); break;
                case "top_p": RequireDefault(v, p.Name, 1, "sampling uses the whole distribution (temperature only)"); break;
                case "presence_penalty" or "frequency_penalty": RequireDefault(v, p.Name, 0, "penalties need a left-to-right decoder"); break;
                case "logprobs" or "echo":
                    if (v.ValueKind is not (JsonValueKind.Null or JsonValueKind.False) && !(v.ValueKind == JsonValueKind.Number && v.GetDouble() == 0))
                        throw ApiError.BadRequest($"{p.Name} is not supported by this server", p.Name);
                    break;
                case "response_format" when kind == RequestKind.Chat: schema = OutputFormat.ReadResponseFormat(v); break;
                case "tools" when kind == RequestKind.Chat: tools = OutputFormat.ReadTools(v); break;
                case "tool_choice" when kind == RequestKind.Chat: (noTools, forcedTool) = OutputFormat.ReadToolChoice(v); break;
                case "top_logprobs" or "logit_bias" or "tools" or "tool_choice" or "functions" or "function_call" or "suffix" or "response_format" or "modalities" or "audio" or "prediction" or "reasoning_effort":
                    if (v.ValueKind != JsonValueKind.Null && !(p.Name == "response_format" && IsTextFormat(v)))
                        throw ApiError.BadRequest($"{p.Name} is not supported by this server", p.Name);
                    break;
                case "dllm_canvas": canvas = Bool(v, "dllm_canvas"); break;
                default:
                    if (Ignored.Contains(p.Name)) break;
                    if (!DecodingKnobs.IsKnob(p.Name) || p.Name.Contains('-'))
                        throw ApiError.BadRequest($"Unrecognized request argument supplied: {p.Name}", p.Name);
                    knobs.Set(p.Name, v); // a DecodingOptionException names the knob
                    break;
            }
        }
        if (model is null) throw ApiError.BadRequest("you must provide a model parameter", "model");
        if (model != settings.ModelId) throw ApiError.ModelNotFound(model, settings.ModelId);
        if (kind == RequestKind.Chat && !sawMessages) throw ApiError.BadRequest("missing required parameter: messages", "messages");
        if (kind == RequestKind.Text && !sawPrompt) throw ApiError.BadRequest("missing required parameter: prompt", "prompt");
        if (canvas && !stream) throw ApiError.BadRequest("dllm_canvas needs \"stream\": true", "dllm_canvas");
        if (tools.Count == 0 && forcedTool is not null) throw ApiError.BadRequest("tool_choice names a function but no tools are given", "tool_choice");
        if (forcedTool is not null && !tools.Any(t => t.Name == forcedTool))
            throw ApiError.BadRequest($"tool_choice names the function '{forcedTool}', which is not in tools", "tool_choice");
        var format = new OutputFormat { Schema = schema, Tools = noTools ? [] : tools, ForcedTool = forcedTool };
        if (format.CallsTool && schema is not null) throw ApiError.BadRequest("response_format json and tools cannot be combined (a tool call is already JSON); send tool_choice \"none\" for a JSON answer", "response_format");
        return new ParsedRequest
        {
            Kind = kind, Model = model, Messages = messages, Prompt = prompt, PromptIds = promptIds, Knobs = knobs,
            Stream = stream, IncludeUsage = includeUsage, StreamCanvas = canvas, Stop = stop, Suffix = suffix, Format = format,
        };
    }

    private static List<ChatMessage> Messages(JsonElement v, int max)
    {
        if (v.ValueKind != JsonValueKind.Array) throw ApiError.BadRequest($"messages must be an array, got {Kind(v)}", "messages");
        int count = v.GetArrayLength();
        if (count == 0) throw ApiError.BadRequest("messages must contain at least one message", "messages");
        if (count > max) throw ApiError.BadRequest($"too many messages: {count}, the limit is {max}", "messages");
        var list = new List<ChatMessage>(count);
        int i = 0;
        foreach (JsonElement m in v.EnumerateArray())
        {
            string at = $"messages[{i++}]";
            if (m.ValueKind != JsonValueKind.Object) throw ApiError.BadRequest($"{at} must be an object, got {Kind(m)}", at);
            string? role = m.TryGetProperty("role", out JsonElement r) ? String(r, at + ".role") : null;
            role = role switch
            {
                null => throw ApiError.BadRequest($"{at} is missing its role", at + ".role"),
                "developer" => "system", // OpenAI's newer name for the system role
                "system" or "user" or "assistant" or "tool" => role,
                _ => throw ApiError.BadRequest($"{at}.role '{role}' is not supported (system, developer, user, assistant or tool)", at + ".role"),
            };
            string content = m.TryGetProperty("content", out JsonElement c) ? Content(c, at + ".content") : "";
            if (!m.TryGetProperty("content", out _) && role != "assistant") throw ApiError.BadRequest($"{at} is missing its content", at + ".content");
            foreach (JsonProperty f in m.EnumerateObject())
                if (f.Name is not ("role" or "content" or "name") && !(f.Name == "tool_calls" && role == "assistant") && !(f.Name == "tool_call_id" && role == "tool"))
                    throw ApiError.BadRequest($"{at}.{f.Name} is not supported by this server", $"{at}.{f.Name}");
            // The chat template knows user and assistant turns: a tool result is told as a user turn, an earlier
            // call as the assistant's text (agent loops can continue; the model sees what happened).
            if (role == "tool") (role, content) = ("user", "Function result: " + content);
            if (m.TryGetProperty("tool_calls", out JsonElement calls) && calls.ValueKind == JsonValueKind.Array)
                foreach (JsonElement call in calls.EnumerateArray())
                    if (call.ValueKind == JsonValueKind.Object && call.TryGetProperty("function", out JsonElement fn) && fn.ValueKind == JsonValueKind.Object)
                        content += $"{(content.Length > 0 ? "\n" : "")}Call {(fn.TryGetProperty("name", out JsonElement fname) ? fname.ToString() : "?")}({(fn.TryGetProperty("arguments", out JsonElement args) ? args.ToString() : "")})";
            list.Add(new ChatMessage(role, content));
        }
        return list;
    }

    /// <summary>A string, or OpenAI's array of content parts of which only "text" parts are supported.</summary>
    private static string Content(JsonElement c, string at)
    {
        switch (c.ValueKind)
        {
            case JsonValueKind.String: return c.GetString()!;
            case JsonValueKind.Null: return "";
            case JsonValueKind.Array:
                var sb = new System.Text.StringBuilder();
                foreach (JsonElement part in c.EnumerateArray())
                {
                    string type = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
                    if (type != "text") throw ApiError.BadRequest($"{at}: only text content parts are supported, got '{type}'", at);
                    sb.Append(part.TryGetProperty("text", out JsonElement text) ? String(text, at + ".text") : "");
                }
                return sb.ToString();
            default: throw ApiError.BadRequest($"{at} must be a string or an array of content parts, got {Kind(c)}", at);
        }
    }

    /// <summary>A string, an array of one string, an array of token ids, or an array of one array of ids.</summary>
    private static (string?, int[]?) Prompt(JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.String) return (v.GetString()!, null);
        if (v.ValueKind == JsonValueKind.Array)
        {
            JsonElement[] items = [.. v.EnumerateArray()];
            if (items.Length == 1 && items[0].ValueKind == JsonValueKind.String) return (items[0].GetString()!, null);
            if (items.Length == 1 && items[0].ValueKind == JsonValueKind.Array) return Prompt(items[0]);
            if (items.Length > 0 && items.All(i => i.ValueKind == JsonValueKind.Number))
                return (null, [.. items.Select(i => i.TryGetInt32(out int id) ? id : throw ApiError.BadRequest($"prompt token id {i.GetRawText()} is not an integer", "prompt"))]);
            if (items.Length > 1 && items.All(i => i.ValueKind is JsonValueKind.String or JsonValueKind.Array))
                throw ApiError.BadRequest("batched prompts are not supported: send one prompt per request", "prompt");
        }
        throw ApiError.BadRequest($"prompt must be a string or an array of token ids, got {Kind(v)}", "prompt");
    }

    private static string[] Stop(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Null => [],
        JsonValueKind.String => [v.GetString()!],
        JsonValueKind.Array when v.GetArrayLength() <= 4 => [.. v.EnumerateArray().Select(s => String(s, "stop"))],
        JsonValueKind.Array => throw ApiError.BadRequest($"stop takes at most 4 sequences, got {v.GetArrayLength()}", "stop"),
        _ => throw ApiError.BadRequest($"stop must be a string or an array of strings, got {Kind(v)}", "stop"),
    };

    private static void RequireDefault(JsonElement v, string name, double value, string why)
    {
        if (v.ValueKind == JsonValueKind.Null) return;
        if (v.ValueKind != JsonValueKind.Number) throw ApiError.BadRequest($"{name} must be a number, got {Kind(v)}", name);
        if (v.GetDouble() != value) throw ApiError.BadRequest($"{name} = {v.GetRawText()} is not supported ({why}); leave it at {value}", name);
    }

    private static bool IsTextFormat(JsonElement v)
        => v.ValueKind == JsonValueKind.Object && v.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.String && t.GetString() == "text";

    private static string String(JsonElement v, string name)
        => v.ValueKind == JsonValueKind.String ? v.GetString()! : throw ApiError.BadRequest($"{name} must be a string, got {Kind(v)}", name);

    private static bool Bool(JsonElement v, string name) => v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False or JsonValueKind.Null => false,
        _ => throw ApiError.BadRequest($"{name} must be a boolean, got {Kind(v)}", name),
    };

    private static string Kind(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
