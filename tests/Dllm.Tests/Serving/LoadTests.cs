using System.Diagnostics;
using System.Text;
using Dllm.Chat;
using Dllm.Cli.Serving;
using Dllm.Model;
using Dllm.Tests.Cli;
using Dllm.Text;

namespace Dllm.Tests.Serving;

/// <summary>
/// A bounded loopback load test: 200 chat requests (every fourth streamed) from 16 concurrent clients on a
/// tiny random checkpoint, with a queue of 8 so that some requests meet a full queue. Only 200 and the
/// documented 429 queue_full are acceptable; managed memory must come back to within a fixed bound.
/// Figures go to the test output and to load-test.txt next to the test binary.
/// </summary>
public class LoadTests
{
    private const int Requests = 200, Clients = 16, Queue = 8;
    private const long MemoryBoundBytes = 64L << 20;

    [Fact]
    public async Task TwoHundredRequestsFromSixteenClientsFailOnlyWithTheDocumented429()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        string dir = TextPromptTests.WriteRandomByteModel();
        using Transformer lm = Transformer.Load(dir);
        var engine = new CompletionEngine(lm, TokenizerLoader.Load(dir), lm.Config.MaskTokenId, lm.Config.EosTokenId);
        await using LoopbackServer server = await LoopbackServer.StartAsync(engine, new ServerSettings { ModelId = "tiny", QueueCapacity = Queue });
        string Body(int i) => $"{{\"model\":\"tiny\",\"messages\":[{{\"role\":\"user\",\"content\":\"Request {i}\"}}],\"max_tokens\":8,\"steps\":4,\"stream\":{(i % 4 == 3 ? "true" : "false")}}}";

        // Warm up (JIT, connection pool), then measure from a collected heap.
        for (int i = 0; i < 4; i++) (await server.Http.PostAsync(server.BaseUrl + "/v1/chat/completions", new StringContent(Body(i)), ct)).Dispose();
        var one = Stopwatch.StartNew();
        (await server.Http.PostAsync(server.BaseUrl + "/v1/chat/completions", new StringContent(Body(0)), ct)).Dispose();
        double alone = one.Elapsed.TotalMilliseconds;
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);

        int next = -1, ok = 0, busy = 0;
        var failures = new List<string>();
        var latencies = new List<double>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Requests)
            {
                var sw = Stopwatch.StartNew();
                // A polite client: on 429 queue_full it backs off briefly and retries (the OpenAI clients do
                // the same, honouring Retry-After; 1 s would only slow the test down).
                for (int attempt = 1; ; attempt++)
                {
                    using HttpResponseMessage r = await server.Http.PostAsync(server.BaseUrl + "/v1/chat/completions", new StringContent(Body(i), Encoding.UTF8, "application/json"), ct);
                    string text = await r.Content.ReadAsStringAsync(ct);
                    lock (latencies)
                    {
                        if ((int)r.StatusCode == 200 && (i % 4 != 3 || text.TrimEnd().EndsWith("data: [DONE]", StringComparison.Ordinal)))
                        {
                            ok++;
                            latencies.Add(sw.Elapsed.TotalMilliseconds);
                            break;
                        }
                        if ((int)r.StatusCode == 429 && text.Contains("queue_full") && r.Headers.RetryAfter is not null) busy++;
                        else { failures.Add($"{(int)r.StatusCode}: {text[..Math.Min(200, text.Length)]}"); break; }
                    }
                    if (attempt == 200) { lock (latencies) failures.Add("gave up after 200 × 429"); break; }
                    await Task.Delay(10 * Math.Min(attempt, 10), ct);
                }
            }
        }, ct)));
        clock.Stop();
        long heapAfter = GC.GetTotalMemory(forceFullCollection: true);

        latencies.Sort();
        double P(double q) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)(q * latencies.Count))];
        string report = $"{Requests} requests, {Clients} clients, queue {Queue}: {ok} answered, {failures.Count} failed, {busy} × 429 queue_full (retried); "
            + $"{clock.Elapsed.TotalSeconds:F2} s, {ok / clock.Elapsed.TotalSeconds:F1} answered/s, "
            + $"latency (with retries) p50 {P(0.5):F0} ms p95 {P(0.95):F0} ms; one request alone {alone:F1} ms; managed heap {heapBefore >> 20} MiB -> {heapAfter >> 20} MiB, "
            + $"working set {Environment.WorkingSet >> 20} MiB; engine steps {engine.StepsRun}";
        TestContext.Current.TestOutputHelper?.WriteLine(report);
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "load-test.txt"), report + "\n");

        Assert.Empty(failures);
        Assert.Equal(Requests, ok);
        Assert.True(heapAfter - heapBefore < MemoryBoundBytes, $"managed memory grew by {(heapAfter - heapBefore) >> 20} MiB: {report}");
        string health = await server.Http.GetStringAsync(server.BaseUrl + "/health", ct);
        Assert.Equal(0, System.Text.Json.JsonDocument.Parse(health).RootElement.GetProperty("admitted").GetInt32()); // the queue drained
    }
}
