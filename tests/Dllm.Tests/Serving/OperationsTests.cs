using System.Net.Http.Headers;
using System.Text;

namespace Dllm.Tests.Serving;

/// <summary>Operations: an optional API key on /v1, opt-in CORS, and /metrics in Prometheus' text format.</summary>
public class OperationsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const string Body = "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":8}";

    [Fact]
    public async Task With_an_api_key_v1_needs_the_bearer_key_and_health_does_not()
    {
        await using LoopbackServer s = await LoopbackServer.ScriptedAsync("ok", settings: new Dllm.Cli.Serving.ServerSettings { ModelId = "tiny", ApiKey = "sk-test" });
        using HttpResponseMessage none = await s.Http.PostAsync(s.BaseUrl + "/v1/chat/completions", new StringContent(Body, Encoding.UTF8, "application/json"), Ct);
        await BadRequestTests.AssertError(none, 401, "Incorrect API key provided", null);
        using var wrong = new HttpRequestMessage(HttpMethod.Get, s.BaseUrl + "/v1/models");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-other");
        using HttpResponseMessage w = await s.Http.SendAsync(wrong, Ct);
        Assert.Equal(401, (int)w.StatusCode);
        using var right = new HttpRequestMessage(HttpMethod.Post, s.BaseUrl + "/v1/chat/completions") { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
        right.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-test");
        using HttpResponseMessage ok = await s.Http.SendAsync(right, Ct);
        Assert.Equal(200, (int)ok.StatusCode);
        using HttpResponseMessage health = await s.Http.GetAsync(s.BaseUrl + "/health", Ct);
        Assert.Equal(200, (int)health.StatusCode);
    }

    [Fact]
    public async Task Metrics_count_responses_steps_and_the_queue()
    {
        await using LoopbackServer s = await LoopbackServer.ScriptedAsync("ok");
        using (await s.Http.PostAsync(s.BaseUrl + "/v1/chat/completions", new StringContent(Body, Encoding.UTF8, "application/json"), Ct)) { }
        using (await s.Http.PostAsync(s.BaseUrl + "/v1/chat/completions", new StringContent("{", Encoding.UTF8, "application/json"), Ct)) { }
        string metrics = await s.Http.GetStringAsync(s.BaseUrl + "/metrics", Ct);
        Assert.Contains("dllm_requests_total{status=\"200\"} 1", metrics);
        Assert.Contains("dllm_requests_total{status=\"400\"} 1", metrics);
        Assert.Contains("dllm_generations_total 1", metrics);
        Assert.Matches(@"dllm_denoising_steps_total [1-9]\d*", metrics);
        Assert.Contains("dllm_queue_rejected_total 0", metrics);
        Assert.Contains("# TYPE dllm_generation_seconds_total counter", metrics);
    }

    [Fact]
    public async Task Cors_is_opt_in_and_answers_preflights_for_the_allowed_origin_only()
    {
        await using LoopbackServer s = await LoopbackServer.ScriptedAsync("ok",
            settings: new Dllm.Cli.Serving.ServerSettings { ModelId = "tiny", ApiKey = "sk-test", CorsOrigins = ["https://editor.example"] });
        using var preflight = new HttpRequestMessage(HttpMethod.Options, s.BaseUrl + "/v1/chat/completions");
        preflight.Headers.Add("Origin", "https://editor.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "authorization, content-type");
        using HttpResponseMessage p = await s.Http.SendAsync(preflight, Ct);
        Assert.True((int)p.StatusCode is 200 or 204, $"preflight answered {(int)p.StatusCode}");
        Assert.Equal("https://editor.example", p.Headers.GetValues("Access-Control-Allow-Origin").Single());

        using var other = new HttpRequestMessage(HttpMethod.Get, s.BaseUrl + "/health");
        other.Headers.Add("Origin", "https://evil.example");
        using HttpResponseMessage o = await s.Http.SendAsync(other, Ct);
        Assert.False(o.Headers.Contains("Access-Control-Allow-Origin"));

        await using LoopbackServer closed = await LoopbackServer.ScriptedAsync("ok");
        using var plain = new HttpRequestMessage(HttpMethod.Get, closed.BaseUrl + "/health");
        plain.Headers.Add("Origin", "https://editor.example");
        using HttpResponseMessage c = await closed.Http.SendAsync(plain, Ct);
        Assert.False(c.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.Contains("is not an origin", Assert.Throws<ArgumentException>(
            () => new Dllm.Cli.Serving.ServerSettings { ModelId = "x", CorsOrigins = ["https://a.example/path"] }.Validate()).Message);
    }
}
