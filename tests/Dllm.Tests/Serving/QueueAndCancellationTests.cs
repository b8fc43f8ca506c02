using System.Text;
using System.Text.Json;

namespace Dllm.Tests.Serving;

/// <summary>The bounded queue (429 + Retry-After when full) and client disconnects cancelling generations.</summary>
public class QueueAndCancellationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static StringContent Chat(int maxTokens, bool stream = false)
        => new($"{{\"model\":\"tiny\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hi\"}}],\"max_tokens\":{maxTokens},\"stream\":{(stream ? "true" : "false")}}}", Encoding.UTF8, "application/json");

    private static async Task<JsonElement> Health(LoopbackServer s)
        => JsonDocument.Parse(await s.Http.GetStringAsync(s.BaseUrl + "/health", Ct)).RootElement;

    private static async Task WaitUntil(Func<Task<bool>> condition, string what)
    {
        for (int i = 0; i < 1500; i++) // up to 15 s: the machine may be busy
        {
            if (await condition()) return;
            await Task.Delay(10, Ct);
        }
        Assert.Fail($"timed out waiting until {what}");
    }

    [Fact]
    public async Task AFullQueueAnswers429WithRetryAfterAndTheQueuedRequestsStillComplete()
    {
        using var gate = new ManualResetEventSlim(false);
        int forwards = 0;
        await using LoopbackServer server = await LoopbackServer.ScriptedAsync("ok", () =>
        {
            Interlocked.Increment(ref forwards);
            gate.Wait(TimeSpan.FromSeconds(30));
        }, new Dllm.Cli.Serving.ServerSettings { ModelId = "tiny", QueueCapacity = 1 }, new Dllm.Sampling.BatchLimits { MaxRows = 1 });

        Task<HttpResponseMessage> running = server.Http.PostAsync(server.BaseUrl + "/v1/chat/completions", Chat(8), Ct);
        await WaitUntil(() => Task.FromResult(Volatile.Read(ref forwards) > 0), "the first request is inside the model");
        Task<HttpResponseMessage> waiting = server.Http.PostAsync(server.BaseUrl + "/v1/chat/completions", Chat(8), Ct);
        await WaitUntil(async () => (await Health(server)).GetProperty("admitted").GetInt32() == 2, "the second request waits in the queue");

        using (HttpResponseMessage refused = await server.Http.PostAsync(server.BaseUrl + "/v1/chat/completions", Chat(8), Ct))
        {
            Assert.Equal("1", refused.Headers.RetryAfter?.Delta?.TotalSeconds.ToString());
            await BadRequestTests.AssertError(refused, 429, "server busy: 1 generation running and 1 waiting, the queue is full; retry later", null);
        }
        Assert.Equal(1, (await Health(server)).GetProperty("rejected").GetInt64());

        gate.Set();
        using HttpResponseMessage first = await running, second = await waiting;
        Assert.Equal(200, (int)first.StatusCode);
        Assert.Equal(200, (int)second.StatusCode);
        await WaitUntil(async () => (await Health(server)).GetProperty("admitted").GetInt32() == 0, "the queue is empty again");
    }

    [Fact]
    public async Task AStreamingClientThatDisconnectsStopsItsGeneration()
    {
        await using LoopbackServer server = await LoopbackServer.ScriptedAsync("abcdefghijklmnopqrstuvwxyz", () => Thread.Sleep(5));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        using var request = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl + "/v1/chat/completions") { Content = Chat(256, stream: true) };
        // .NET's handler would otherwise keep reading ("draining") a disposed response for up to 2 s to reuse
        // the connection; a browser tab or curl that goes away closes it at once, as this client now does.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 });
        using (HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
            // Read until the model has produced some text, then hang up.
            while (await reader.ReadLineAsync(cts.Token) is string line && !line.Contains("\"content\":\"a")) { }
            cts.Cancel();
        }
        long atDisconnect = server.Engine.StepsRun;
        await WaitUntil(async () => (await Health(server)).GetProperty("admitted").GetInt32() == 0, "the cancelled request leaves the queue");
        long stopped = server.Engine.StepsRun;
        await Task.Delay(200, Ct);
        Assert.Equal(stopped, server.Engine.StepsRun); // no step after it stopped
        Assert.True(stopped < 256, $"the generation ran to the end ({stopped} steps) despite the disconnect at step {atDisconnect}");
    }

    [Fact]
    public async Task ANonStreamingClientThatGivesUpStopsItsGeneration()
    {
        await using LoopbackServer server = await LoopbackServer.ScriptedAsync("abcdefghijklmnopqrstuvwxyz", () => Thread.Sleep(5));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task<HttpResponseMessage> call = server.Http.PostAsync(server.BaseUrl + "/v1/chat/completions", Chat(256), cts.Token);
        await WaitUntil(() => Task.FromResult(server.Engine.StepsRun >= 3), "the generation is under way");
        cts.Cancel(); // the client gives up (a timeout, a closed tab): HttpClient aborts the connection
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await WaitUntil(async () => (await Health(server)).GetProperty("admitted").GetInt32() == 0, "the abandoned request leaves the queue");
        long stopped = server.Engine.StepsRun;
        await Task.Delay(200, Ct);
        Assert.Equal(stopped, server.Engine.StepsRun);
        Assert.True(stopped > 0 && stopped < 256, $"expected a partial generation, got {stopped} of 256 steps");
    }
}
