using System.ClientModel;
using System.Text;
using System.Text.Json;
using Dllm.Tests.Chat;
using OpenAI;
using OpenAI.Chat;

namespace Dllm.Tests.Serving;

/// <summary>Structured output and function calling through the official OpenAI .NET client (and raw streaming).</summary>
public class StructuredServingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static OpenAIClientOptions Options(LoopbackServer s) => new() { Endpoint = new Uri(s.BaseUrl + "/v1") };

    private const string PersonSchema = """
        {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"admin":{"type":"boolean"},
         "role":{"type":"string","enum":["reader","writer"]},"tags":{"type":"array","items":{"type":"string"},"maxItems":3}},
         "required":["name","age","admin","role","tags"],"additionalProperties":false}
        """;

    private const string WeatherSchema = """
        {"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer"}},
         "required":["city","unit","days"],"additionalProperties":false}
        """;

    [Fact]
    public async Task TheClientsStructuredOutputCallGetsJsonThatValidates()
    {
        await using LoopbackServer server = await LoopbackServer.ScriptedAsync("Alice");
        var client = new ChatClient("tiny", new ApiKeyCredential("unused"), Options(server));
        var options = new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("person", BinaryData.FromString(PersonSchema), jsonSchemaIsStrict: true),
        };
        ChatCompletion c = (await client.CompleteChatAsync([new UserChatMessage("Hi")], options, Ct)).Value;
        Assert.Equal(ChatFinishReason.Stop, c.FinishReason);
        using JsonDocument answer = JsonDocument.Parse(c.Content[0].Text);
        using JsonDocument schema = JsonDocument.Parse(PersonSchema);
        Assert.Null(SchemaCheck.Validate(answer.RootElement, schema.RootElement, "$"));
    }

    [Fact]
    public async Task TheClientsToolCallGetsToolCallsWithValidArguments()
    {
        await using LoopbackServer server = await LoopbackServer.ScriptedAsync("Paris");
        var client = new ChatClient("tiny", new ApiKeyCredential("unused"), Options(server));
        var options = new ChatCompletionOptions
        {
            Tools =
            {
                ChatTool.CreateFunctionTool("get_weather", "The weather forecast for a city", BinaryData.FromString(WeatherSchema)),
                ChatTool.CreateFunctionTool("get_time", "The local time in a city", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""")),
            },
        };
        ChatCompletion c = (await client.CompleteChatAsync([new UserChatMessage("Hi")], options, Ct)).Value;
        Assert.Equal(ChatFinishReason.ToolCalls, c.FinishReason);
        ChatToolCall call = Assert.Single(c.ToolCalls);
        Assert.Contains(call.FunctionName, new[] { "get_weather", "get_time" });
        Assert.StartsWith("call_", call.Id);
        using JsonDocument args = JsonDocument.Parse(call.FunctionArguments.ToString());
        using JsonDocument schema = JsonDocument.Parse(call.FunctionName == "get_weather" ? WeatherSchema : """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""");
        Assert.Null(SchemaCheck.Validate(args.RootElement, schema.RootElement, "$"));

        // The agent loop continues: the call and its result go back as history, tool_choice "none" answers in text.
        var history = new List<ChatMessage> { new UserChatMessage("Hi"), new AssistantChatMessage([call]), new ToolChatMessage(call.Id, "sunny, 21 C") };
        ChatCompletion text = (await client.CompleteChatAsync(history, new ChatCompletionOptions { Tools = { options.Tools[0] }, ToolChoice = ChatToolChoice.CreateNoneChoice() }, Ct)).Value;
        Assert.Equal(ChatFinishReason.Stop, text.FinishReason);
        Assert.Empty(text.ToolCalls);
    }

    [Fact]
    public async Task AForcedToolIsCalledAndAStreamedCallComesInOneChunk()
    {
        await using LoopbackServer server = await LoopbackServer.ScriptedAsync("Oslo");
        string body = """{"model":"tiny","messages":[{"role":"user","content":"Hi"}],"stream":true,"tools":[{"type":"function","function":{"name":"get_weather","parameters":"""
            + WeatherSchema + """}},{"type":"function","function":{"name":"noop"}}],"tool_choice":{"type":"function","function":{"name":"get_weather"}}}""";
        using HttpResponseMessage r = await server.Http.PostAsync(server.BaseUrl + "/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"), Ct);
        string sse = await r.Content.ReadAsStringAsync(Ct);
        JsonElement[] chunks = [.. sse.Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l[6..]).RootElement)];
        JsonElement call = chunks.Select(c => c.GetProperty("choices")[0].GetProperty("delta")).Single(d => d.TryGetProperty("tool_calls", out _)).GetProperty("tool_calls")[0];
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        using JsonDocument args = JsonDocument.Parse(call.GetProperty("function").GetProperty("arguments").GetString()!);
        using JsonDocument schema = JsonDocument.Parse(WeatherSchema);
        Assert.Null(SchemaCheck.Validate(args.RootElement, schema.RootElement, "$"));
        Assert.Equal("tool_calls", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.EndsWith("data: [DONE]", sse.TrimEnd());
    }

    [Fact]
    public async Task AStreamedJsonObjectAnswerIsValidJson()
    {
        await using LoopbackServer server = await LoopbackServer.ScriptedAsync("Bob");
        const string body = """{"model":"tiny","messages":[{"role":"user","content":"Hi"}],"stream":true,"response_format":{"type":"json_object"}}""";
        using HttpResponseMessage r = await server.Http.PostAsync(server.BaseUrl + "/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"), Ct);
        var text = new StringBuilder();
        foreach (string line in (await r.Content.ReadAsStringAsync(Ct)).Split('\n'))
            if (line.StartsWith("data: {", StringComparison.Ordinal)
                && JsonDocument.Parse(line[6..]).RootElement.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out JsonElement c))
                text.Append(c.GetString());
        using JsonDocument answer = JsonDocument.Parse(text.ToString());
        Assert.Equal(JsonValueKind.String, answer.RootElement.GetProperty("text").ValueKind);
    }
}
