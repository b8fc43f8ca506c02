using System.Text.Json;
using Dllm.Chat;

namespace Dllm.Cli.Serving;

/// <summary>
/// The response bodies, in OpenAI's wire format: <c>chat.completion</c>, <c>chat.completion.chunk</c>,
/// <c>text_completion</c> (whole and streamed), the model list, and Dllm's canvas frame event. Written with
/// Utf8JsonWriter (no reflection): each method returns one UTF-8 JSON document.
/// </summary>
internal sealed class OpenAiJson(RequestKind kind, string model)
{
    private readonly string _id = (kind == RequestKind.Chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N")[..24];
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>The whole answer.</summary>
    public byte[] Completion(string text, string finishReason, Completion c) => Write(w =>
    {
        Header(w, kind == RequestKind.Chat ? "chat.completion" : "text_completion");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        if (kind == RequestKind.Chat)
        {
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", text);
            w.WriteEndObject();
        }
        else w.WriteString("text", text);
        w.WriteNull("logprobs");
        w.WriteString("finish_reason", finishReason);
        w.WriteEndObject();
        w.WriteEndArray();
        Usage(w, c);
        Stats(w, c);
    });

    /// <summary>The whole answer as a function call (finish_reason "tool_calls", content null).</summary>
    public byte[] ToolCall(string name, string arguments, Completion c) => Write(w =>
    {
        Header(w, "chat.completion");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        w.WriteNull("content");
        ToolCalls(w, name, arguments, streamed: false);
        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteString("finish_reason", "tool_calls");
        w.WriteEndObject();
        w.WriteEndArray();
        Usage(w, c);
        Stats(w, c);
    });

    /// <summary>A streamed function call, whole in one chunk (the arguments are final only at the end).</summary>
    public byte[] ToolCallChunk(string name, string arguments) => Write(w =>
    {
        Header(w, "chat.completion.chunk");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("delta");
        ToolCalls(w, name, arguments, streamed: true);
        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteNull("finish_reason");
        w.WriteEndObject();
        w.WriteEndArray();
    });

    private void ToolCalls(Utf8JsonWriter w, string name, string arguments, bool streamed)
    {
        w.WriteStartArray("tool_calls");
        w.WriteStartObject();
        if (streamed) w.WriteNumber("index", 0);
        w.WriteString("id", "call_" + _id[^24..]);
        w.WriteString("type", "function");
        w.WriteStartObject("function");
        w.WriteString("name", name);
        w.WriteString("arguments", arguments);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndArray();
    }

    /// <summary>A streamed piece of text; <paramref name="first"/> adds the assistant role (chat).</summary>
    public byte[] Chunk(string text, bool first = false) => ChunkWith(text, null, first);

    /// <summary>The last choice chunk: no text, the finish reason.</summary>
    public byte[] FinalChunk(string finishReason) => ChunkWith(null, finishReason, false);

    /// <summary>stream_options.include_usage: the extra last chunk with usage and no choices.</summary>
    public byte[] UsageChunk(Completion c) => Write(w =>
    {
        Header(w, kind == RequestKind.Chat ? "chat.completion.chunk" : "text_completion");
        w.WriteStartArray("choices");
        w.WriteEndArray();
        Usage(w, c);
        Stats(w, c);
    });

    /// <summary>The <c>dllm.canvas</c> event: the answer canvas after one denoising step.</summary>
    public static byte[] Canvas(CanvasFrame f) => Write(w =>
    {
        w.WriteNumber("step", f.Step);
        w.WriteNumber("block", f.Block);
        w.WriteStartArray("tokens");
        foreach (string t in f.Tokens) w.WriteStringValue(t);
        w.WriteEndArray();
        w.WriteStartArray("confidence");
        foreach (double? c in f.Confidence)
        {
            if (c is double d && double.IsFinite(d)) w.WriteNumberValue(Math.Round(d, 3));
            else if (c is null) w.WriteNullValue();
            else w.WriteNumberValue(0);
        }
        w.WriteEndArray();
        w.WriteStartArray("committed");
        foreach (int p in f.Committed) w.WriteNumberValue(p);
        w.WriteEndArray();
    });

    /// <summary>GET /v1/models: a list with the one model.</summary>
    public static byte[] Models(string id, long created) => Write(w =>
    {
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        w.WriteStartObject();
        ModelFields(w, id, created);
        w.WriteEndObject();
        w.WriteEndArray();
    });

    /// <summary>GET /v1/models/{id}.</summary>
    public static byte[] ModelObject(string id, long created) => Write(w => ModelFields(w, id, created));

    private static void ModelFields(Utf8JsonWriter w, string id, long created)
    {
        w.WriteString("id", id);
        w.WriteString("object", "model");
        w.WriteNumber("created", created);
        w.WriteString("owned_by", "dllm");
    }

    private byte[] ChunkWith(string? text, string? finishReason, bool first) => Write(w =>
    {
        Header(w, kind == RequestKind.Chat ? "chat.completion.chunk" : "text_completion");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        if (kind == RequestKind.Chat)
        {
            w.WriteStartObject("delta");
            if (first) w.WriteString("role", "assistant");
            if (text is not null) w.WriteString("content", text);
            w.WriteEndObject();
        }
        else w.WriteString("text", text ?? "");
        w.WriteNull("logprobs");
        if (finishReason is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finishReason);
        w.WriteEndObject();
        w.WriteEndArray();
    });

    private void Header(Utf8JsonWriter w, string obj)
    {
        w.WriteString("id", _id);
        w.WriteString("object", obj);
        w.WriteNumber("created", _created);
        w.WriteString("model", model);
    }

    private static void Usage(Utf8JsonWriter w, Completion c)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", c.PromptTokens);
        w.WriteNumber("completion_tokens", c.CompletionTokens);
        w.WriteNumber("total_tokens", c.PromptTokens + c.CompletionTokens);
        w.WriteEndObject();
    }

    /// <summary>Dllm extension: what the diffusion cost (clients ignore unknown fields).</summary>
    private static void Stats(Utf8JsonWriter w, Completion c)
    {
        w.WriteStartObject("dllm");
        w.WriteNumber("steps", c.Steps);
        w.WriteNumber("nfe", c.Nfe);
        w.WriteNumber("gen_length", c.Options.GenLength);
        w.WriteNumber("elapsed_ms", Math.Round(c.Elapsed.TotalMilliseconds, 1));
        w.WriteEndObject();
    }

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
