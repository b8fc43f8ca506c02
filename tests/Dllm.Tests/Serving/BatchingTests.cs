using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Dllm.Tests.Serving;

/// <summary>The server's step-level batching: concurrent requests share forwards, answers unchanged, /metrics shows rows per forward.</summary>
public class BatchingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StringContent Chat(int maxTokens, bool stream)
        => new($"{{\"model\":\"tiny\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hi\"}}],\"max_tokens\":{maxTokens},\"stream\":{(stream ? "true" : "false")}}}", Encoding.UTF8, "application/json");

    private static double Metric(string metrics, string name)
        => double.Parse(Regex.Match(metrics, $"^{name} (\\S+)$", RegexOptions.Multiline).Groups[1].Value, CultureInfo.InvariantCulture);

    [Fact]
    public async Task ConcurrentRequestsShareForwardsAndGetTheAnswerTheyGetAlone()
    {
        await using LoopbackServer server = await LoopbackServer.ScriptedAsync("Hello there, batch", () => Thread.Sleep(2));
        using (HttpResponseMessage alone = await server.Http.PostAsync(server.BaseUrl + "/v1/chat/completions", Chat(24, false), Ct))
            Assert.Contains("\"content\":\"Hello there, batch\"", await alone.Content.ReadAsStringAsync(Ct));
        string before = await server.Http.GetStringAsync(server.BaseUrl + "/metrics", Ct);

        // Different canvas sizes (so different lengths and step counts), half of them streamed.
        int[] sizes = [24, 32, 20, 40, 24, 28];
        string[] answers = await Task.WhenAll(sizes.Select(async (n, i) =>
        {
            using HttpResponseMessage r = await server.Http.PostAsync(server.BaseUrl + "/v1/chat/completions", Chat(n, i % 2 == 1), Ct);
            Assert.Equal(200, (int)r.StatusCode);
            string body = await r.Content.ReadAsStringAsync(Ct);
            if (i % 2 == 0) return JsonDocument.Parse(body).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
            var text = new StringBuilder();
            foreach (string line in body.Split('\n'))
                if (line.StartsWith("data: {", StringComparison.Ordinal)
                    && JsonDocument.Parse(line[6..]).RootElement.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out JsonElement c))
                    text.Append(c.GetString());
            return text.ToString();
        }));
        Assert.All(answers, a => Assert.Equal("Hello there, batch", a));

        string after = await server.Http.GetStringAsync(server.BaseUrl + "/metrics", Ct);
        double forwards = Metric(after, "dllm_forwards_total") - Metric(before, "dllm_forwards_total");
        double rows = Metric(after, "dllm_forward_rows_total") - Metric(before, "dllm_forward_rows_total");
        Assert.True(rows / forwards > 1.5, $"{rows} rows in {forwards} forwards: the requests did not share forwards");
        Assert.Equal(0, Metric(after, "dllm_batch_rows"));
        Assert.Equal(0, Metric(after, "dllm_batch_waiting"));
    }
}
