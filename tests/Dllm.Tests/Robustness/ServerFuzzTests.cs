using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Dllm.Tests.Serving;

namespace Dllm.Tests.Robustness;

/// <summary>
/// Hostile request bodies over loopback (<see cref="Mutator"/> mutants of two valid requests that use
/// most fields): the server answers every one with 200 or an OpenAI error object (400, 404, 413), never
/// a 500 or a dropped connection, and still serves a valid request afterwards. Bounded in count and time.
/// </summary>
public class ServerFuzzTests(ScriptedServerFixture fixture) : IClassFixture<ScriptedServerFixture>
{
    private const int Requests = 600;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(12);
    private readonly ITestOutputHelper _out = TestContext.Current.TestOutputHelper!;

    private const string Chat = "{\"model\":\"tiny\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}]," +
        "\"max_tokens\":8,\"steps\":8,\"temperature\":0.5,\"stop\":[\"x\"],\"stream\":false,\"seed\":3,\"remasking\":\"low_confidence\",\"block_length\":8}";
    private const string Completion = "{\"model\":\"tiny\",\"prompt\":\"In the beginning\",\"max_tokens\":4,\"stream\":true,\"stream_options\":{\"include_usage\":true}}";

    [Theory]
    [InlineData("/v1/chat/completions", Chat, 11)]
    [InlineData("/v1/completions", Completion, 12)]
    public async Task Mutated_bodies_get_an_answer_or_an_OpenAI_error_never_a_500(string path, string valid, int seed)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var counts = new SortedDictionary<int, int>();
        var failures = new List<string>();
        var sw = Stopwatch.StartNew();
        foreach (var (bytes, what) in Mutator.Mutants(Encoding.UTF8.GetBytes(valid), seed, Requests))
        {
            if (sw.Elapsed > Budget) break;
            using var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            HttpResponseMessage r;
            try { r = await fixture.Server.Http.PostAsync(fixture.Server.BaseUrl + path, content, ct); }
            catch (HttpRequestException e) { failures.Add($"{what}: connection failed: {e.Message}"); continue; }
            using (r)
            {
                int status = (int)r.StatusCode;
                counts[status] = counts.GetValueOrDefault(status) + 1;
                string body = await r.Content.ReadAsStringAsync(ct);
                if (status is not (200 or 400 or 404 or 413)) failures.Add($"{what}: HTTP {status}: {body[..Math.Min(200, body.Length)]}");
                else if (status != 200 && !IsOpenAiError(body)) failures.Add($"{what}: HTTP {status} without an error object: {body[..Math.Min(200, body.Length)]}");
            }
        }
        _out.WriteLine($"{path}: {counts.Values.Sum()} requests in {sw.Elapsed.TotalSeconds:F1} s: " + string.Join(", ", counts.Select(kv => $"{kv.Value}× {kv.Key}")));
        Assert.True(failures.Count == 0, $"{failures.Count} bad outcomes:\n" + string.Join("\n", failures.Take(8)));

        using HttpResponseMessage ok = await fixture.Server.Http.PostAsync(fixture.Server.BaseUrl + path, new StringContent(valid, Encoding.UTF8, "application/json"), ct);
        Assert.Equal(200, (int)ok.StatusCode);
    }

    private static bool IsOpenAiError(string body)
    {
        try
        {
            using JsonDocument d = JsonDocument.Parse(body);
            return d.RootElement.TryGetProperty("error", out JsonElement e) && e.TryGetProperty("message", out JsonElement m)
                && m.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(m.GetString());
        }
        catch (JsonException) { return false; }
    }
}
