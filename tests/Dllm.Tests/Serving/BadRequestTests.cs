using System.Text;
using System.Text.Json;

namespace Dllm.Tests.Serving;

/// <summary>One scripted server shared by the bad-request cases.</summary>
public sealed class ScriptedServerFixture : IAsyncLifetime
{
    internal LoopbackServer Server { get; private set; } = null!;
    public async ValueTask InitializeAsync() => Server = await LoopbackServer.ScriptedAsync("ok");
    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// Every bad request over raw HTTP: the status code, OpenAI's error object
/// (<c>{"error":{"message","type","param","code"}}</c>) and a message that names the problem.
/// </summary>
public class BadRequestTests(ScriptedServerFixture fixture) : IClassFixture<ScriptedServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const string Msg = "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]";

    public static TheoryData<string, string, int, string, string?> Cases => new()
    {
        // path, body, status, message (substring), param
        { "chat", "{\"model\":\"tiny\",", 400, "the request body is not valid JSON", null },
        { "chat", "[1,2]", 400, "the request body must be a JSON object, got an array", null },
        { "chat", "", 400, "the request body is empty", null },
        { "chat", $"{{\"model\":\"gpt-4\",{Msg}}}", 404, "The model 'gpt-4' does not exist; this server serves 'tiny'", "model" },
        { "chat", $"{{{Msg}}}", 400, "you must provide a model parameter", "model" },
        { "chat", "{\"model\":7," + Msg + "}", 400, "model must be a string, got a number", "model" },
        { "chat", "{\"model\":\"tiny\"}", 400, "missing required parameter: messages", "messages" },
        { "chat", "{\"model\":\"tiny\",\"messages\":[]}", 400, "messages must contain at least one message", "messages" },
        { "chat", "{\"model\":\"tiny\",\"messages\":\"Hi\"}", 400, "messages must be an array, got a string", "messages" },
        { "chat", "{\"model\":\"tiny\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}", 400, "messages[0].role 'robot' is not supported", "messages[0].role" },
        { "chat", "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400, "messages[0].content must be a string or an array of content parts, got a number", "messages[0].content" },
        { "chat", "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", 400, "only text content parts are supported, got 'image_url'", "messages[0].content" },
        { "chat", "{\"model\":\"tiny\",\"messages\":[{\"content\":\"x\"}]}", 400, "messages[0] is missing its role", "messages[0].role" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"max_tokens\":-5}}", 400, "max_tokens must be ≥ 1, got -5", "max_tokens" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"max_tokens\":1000000}}", 400, "the answer canvas of 1000000 tokens is more than this server's limit of 1024", "max_tokens" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"max_tokens\":\"ten\"}}", 400, "max_tokens must be an integer, got the string \"ten\"", "max_tokens" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"max_tokens\":1e40}}", 400, "max_tokens must be an integer, got the number 1e40", "max_tokens" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"gen_length\":4096}}", 400, "the answer canvas of 4096 tokens is more than this server's limit of 1024", "gen_length" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"max_tokens\":32,\"steps\":100000}}", 400, "steps = 100000 is more than this server's limit of 4096", "steps" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"max_tokens\":64,\"steps\":7}}", 400, "steps (7) must be a multiple of the number of blocks (2", "steps" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"steps\":-1}}", 400, "steps must be positive, got -1", "steps" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"temperature\":-1}}", 400, "temperature must be a finite number ≥ 0, got -1", "temperature" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"temperature\":\"hot\"}}", 400, "temperature must be a number, got the string \"hot\"", "temperature" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"remasking\":\"best\"}}", 400, "remasking must be one of low_confidence, random, topk_margin, entropy; got 'best'", "remasking" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"cfg_scale\":[1]}}", 400, "cfg_scale must be a number, got an array", "cfg_scale" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"stream\":\"yes\"}}", 400, "stream must be a boolean, got a string", "stream" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"frobnicate\":1}}", 400, "Unrecognized request argument supplied: frobnicate", "frobnicate" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"n\":2}}", 400, "n = 2 is not supported", "n" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"tools\":[{{\"type\":\"function\"}}]}}", 400, "tools[0] must be {\"type\": \"function\", \"function\": {...}}", "tools[0]" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"tools\":[{{\"type\":\"function\",\"function\":{{\"name\":\"f\",\"parameters\":{{\"type\":\"object\",\"properties\":{{\"x\":{{\"anyOf\":[]}}}}}}}}}}]}}", 400, "tools[0].function.parameters.properties.x.anyOf: the JSON Schema keyword 'anyOf' is not supported", "tools[0].function.parameters.properties.x.anyOf" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"tool_choice\":{{\"type\":\"function\",\"function\":{{\"name\":\"g\"}}}}}}", 400, "tool_choice names a function but no tools are given", "tool_choice" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"response_format\":{{\"type\":\"yaml\"}}}}", 400, "response_format.type 'yaml' is not supported", "response_format.type" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"response_format\":{{\"type\":\"json_schema\",\"json_schema\":{{\"name\":\"n\",\"schema\":{{\"type\":\"integer\",\"minimum\":3}}}}}}}}", 400, "response_format.json_schema.schema.minimum: the JSON Schema keyword 'minimum' is not supported", "response_format.json_schema.schema.minimum" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"stop\":5}}", 400, "stop must be a string or an array of strings, got a number", "stop" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"dllm_canvas\":true}}", 400, "dllm_canvas needs \"stream\": true", "dllm_canvas" },
        { "chat", "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('x', 600) + "\"}]}", 400, "more than the model's context of 512 tokens", "messages" },
        { "completions", "{\"model\":\"tiny\",\"prompt\":{\"text\":\"x\"}}", 400, "prompt must be a string or an array of token ids, got an object", "prompt" },
        { "completions", "{\"model\":\"tiny\",\"prompt\":[\"a\",\"b\"]}", 400, "batched prompts are not supported", "prompt" },
        { "completions", "{\"model\":\"tiny\",\"prompt\":[1,99999]}", 400, "prompt token id 99999 is outside the vocabulary [0, 262)", "prompt" },
        { "completions", "{\"model\":\"tiny\",\"messages\":[]}", 400, "Unrecognized request argument supplied: messages", "messages" },
        { "completions", "{\"model\":\"tiny\",\"prompt\":\"x\",\"echo\":true}", 400, "echo is not supported by this server", "echo" },
        { "completions", "{\"model\":\"tiny\"}", 400, "missing required parameter: prompt", "prompt" },
        { "chat", "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"a\\ud800b\"}]}", 400, "messages[0].content is not valid Unicode text", "messages[0].content" },
        { "chat", "{\"model\":\"ti\\udc00ny\"," + Msg + "}", 400, "model is not valid Unicode text", "model" },
        { "completions", "{\"model\":\"tiny\",\"prompt\":\"\\ud83d\"}", 400, "prompt is not valid Unicode text", "prompt" },
        { "chat", $"{{\"model\":\"tiny\",{Msg},\"stop\":[\"\\udfff\"]}}", 400, "stop[0] is not valid Unicode text", "stop[0]" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadRequestGetsItsStatusAndANamedError(string endpoint, string body, int status, string message, string? param)
    {
        string path = endpoint == "chat" ? "/v1/chat/completions" : "/v1/completions";
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using HttpResponseMessage r = await fixture.Server.Http.PostAsync(fixture.Server.BaseUrl + path, content, Ct);
        await AssertError(r, status, message, param);
    }

    [Fact]
    public async Task TooManyMessagesAndATooLargeBodyAreRefused()
    {
        string many = "{\"model\":\"tiny\",\"messages\":[" + string.Join(",", Enumerable.Repeat("{\"role\":\"user\",\"content\":\"x\"}", 300)) + "]}";
        using HttpResponseMessage r1 = await fixture.Server.Http.PostAsync(fixture.Server.BaseUrl + "/v1/chat/completions", new StringContent(many), Ct);
        await AssertError(r1, 400, "too many messages: 300, the limit is 256", "messages");

        string huge = "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('x', 1_100_000) + "\"}]}";
        // With "Expect: 100-continue" the server can refuse on Content-Length alone and the client never
        // sends the body; without it a client may still be writing when the 413 arrives (a broken pipe).
        using var request = new HttpRequestMessage(HttpMethod.Post, fixture.Server.BaseUrl + "/v1/chat/completions") { Content = new StringContent(huge) };
        request.Headers.ExpectContinue = true;
        using HttpResponseMessage r2 = await fixture.Server.Http.SendAsync(request, Ct);
        await AssertError(r2, 413, "request body too large: the limit is 1048576 bytes", null);
    }

    [Fact]
    public async Task UnknownEndpointsAre404AndWrongMethods405InOpenAiShape()
    {
        using HttpResponseMessage r = await fixture.Server.Http.GetAsync(fixture.Server.BaseUrl + "/v1/embeddings", Ct);
        await AssertError(r, 404, "unknown endpoint GET /v1/embeddings", null);
        using HttpResponseMessage m = await fixture.Server.Http.GetAsync(fixture.Server.BaseUrl + "/v1/models/gpt-4", Ct);
        await AssertError(m, 404, "The model 'gpt-4' does not exist", "model");
        using HttpResponseMessage g = await fixture.Server.Http.GetAsync(fixture.Server.BaseUrl + "/v1/chat/completions", Ct);
        await AssertError(g, 405, "GET is not allowed on /v1/chat/completions; use POST", null);
    }

    [Fact]
    public async Task AGoodRequestOnTheSameServerSucceeds()
    {
        // The control case: the fixture's server answers a valid request, so the failures above are the requests' fault.
        using HttpResponseMessage r = await fixture.Server.Http.PostAsync(fixture.Server.BaseUrl + "/v1/chat/completions",
            new StringContent($"{{\"model\":\"tiny\",{Msg},\"max_tokens\":8}}"), Ct);
        Assert.Equal(200, (int)r.StatusCode);
        Assert.Equal("ok", JsonDocument.Parse(await r.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    internal static async Task AssertError(HttpResponseMessage r, int status, string message, string? param)
    {
        string text = await r.Content.ReadAsStringAsync(Ct);
        Assert.True(status == (int)r.StatusCode, $"expected {status}, got {(int)r.StatusCode}: {text}");
        Assert.Equal("application/json", r.Content.Headers.ContentType?.MediaType);
        JsonElement error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Contains(message, error.GetProperty("message").GetString());
        Assert.Equal(status >= 500 ? "server_error" : status == 429 ? "rate_limit_error" : "invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").ValueKind == JsonValueKind.Null ? null : error.GetProperty("param").GetString());
        Assert.True(error.TryGetProperty("code", out _));
    }
}
