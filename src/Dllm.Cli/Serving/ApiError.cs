using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Dllm.Cli.Serving;

/// <summary>
/// An error answered in OpenAI's shape, <c>{"error":{"message","type","param","code"}}</c>, with its HTTP
/// status: 400 invalid request, 401 wrong API key, 404 unknown model or route, 413 body too large, 429
/// queue full (with Retry-After), 500 a bug.
/// </summary>
internal sealed class ApiError(int status, string message, string type, string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    /// <summary>Seconds for a Retry-After header, or null.</summary>
    public int? RetryAfter { get; init; }

    public static ApiError BadRequest(string message, string? param = null, string? code = null)
        => new(StatusCodes.Status400BadRequest, message, "invalid_request_error", param, code);

    public static ApiError ModelNotFound(string model, string served)
        => new(StatusCodes.Status404NotFound, $"The model '{model}' does not exist; this server serves '{served}'", "invalid_request_error", "model", "model_not_found");

    public static ApiError TooLarge(long limit)
        => new(StatusCodes.Status413PayloadTooLarge, $"request body too large: the limit is {limit} bytes", "invalid_request_error", null, "request_too_large");

    /// <summary>429 with Retry-After, as OpenAI answers a client that must slow down.</summary>
    public static ApiError QueueFull(int running, int waiting)
        => new(StatusCodes.Status429TooManyRequests,
            $"server busy: {running} generation{(running == 1 ? "" : "s")} running and {waiting} waiting, the queue is full; retry later", "rate_limit_error", null, "queue_full") { RetryAfter = 1 };

    /// <summary>401 for a missing or wrong Bearer key (OpenAI's invalid_api_key).</summary>
    public static ApiError BadApiKey()
        => new(StatusCodes.Status401Unauthorized, "Incorrect API key provided: send the server's --api-key as \"Authorization: Bearer KEY\"",
            "invalid_request_error", null, "invalid_api_key");

    /// <summary>Writes the error object (the response must not have started).</summary>
    public async Task WriteAsync(HttpResponse response)
    {
        response.StatusCode = Status;
        if (RetryAfter is int s) response.Headers.RetryAfter = s.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.ContentType = "application/json";
        await response.Body.WriteAsync(ToJson());
    }

    /// <summary>The error object as UTF-8 JSON (also sent as an SSE event when a stream fails midway).</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartObject("error");
            w.WriteString("message", Message);
            w.WriteString("type", Type);
            if (Param is null) w.WriteNull("param"); else w.WriteString("param", Param);
            if (Code is null) w.WriteNull("code"); else w.WriteString("code", Code);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
