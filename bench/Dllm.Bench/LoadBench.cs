using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;

namespace Dllm.Bench;

/// <summary>
/// <c>load</c>: the OpenAI server under concurrent clients on loopback, batched (step-level batching,
/// <c>--batch-rows R</c>) and one-at-a-time (<c>--batch-rows 1</c>) side by side in one run. Each server is a real
/// <c>dllm serve</c> process (the built CLI); for each client count, <c>--requests</c> chat requests (different
/// prompts) are spread over that many concurrent clients, bounded by <c>--seconds</c> per run (requests still
/// running then are cancelled and counted as unfinished). Reports answered requests/s, p50/p95 latency, the
/// latency of one request alone, and every status other than 200 (429 queue_full is the documented one).
/// </summary>
/// <remarks>
/// Usage: <c>Dllm.Bench load [--model DIR | --random 512x8] [--clients 16,64] [--requests 64] [--seconds 120] [--max-tokens 32]
/// [--steps 16] [--batch-rows 16] [--threads N] [--knobs '"cache":"dual","block_length":8'] [--cli PATH/Dllm.Cli.dll]</c>. Defaults: the bundled
/// models/chat-1m and the Release CLI build, both found above the working directory. Heavy: run it on a quiet machine.
/// </remarks>
internal static class LoadBench
{
    public static int Run(string[] args)
    {
        string? Arg(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        string model = Arg("--model") ?? Find(Path.Combine("models", "chat-1m"));
        if (Arg("--random") is string shape) model = RandomModel(model, shape);
        string cli = Arg("--cli") ?? Find(Path.Combine("src", "Dllm.Cli", "bin", "Release", "net10.0", "Dllm.Cli.dll"));
        int[] clients = [.. (Arg("--clients") ?? "16,64").Split(',').Select(int.Parse)];
        int requests = int.Parse(Arg("--requests") ?? "64", CultureInfo.InvariantCulture);
        double seconds = double.Parse(Arg("--seconds") ?? "120", CultureInfo.InvariantCulture);
        int maxTokens = int.Parse(Arg("--max-tokens") ?? "32", CultureInfo.InvariantCulture);
        int steps = int.Parse(Arg("--steps") ?? "16", CultureInfo.InvariantCulture);
        int rows = int.Parse(Arg("--batch-rows") ?? "16", CultureInfo.InvariantCulture);
        string? threads = Arg("--threads");
        string extra = Arg("--knobs") is string k ? "," + k : ""; // e.g. --knobs '"cache":"dual","block_length":8'


        Console.WriteLine($"load: model {model}, {requests} requests per run (≤ {seconds:F0} s), max_tokens {maxTokens}, steps {steps}");
        Console.WriteLine("server          clients  answered  other  unfinished   req/s   p50 ms   p95 ms   alone ms");
        foreach (int r in new[] { rows, 1 })
        {
            int port = 18100 + r;
            string threadFlag = threads is null ? "" : $" --threads {threads}";
            using Process server = Process.Start(new ProcessStartInfo("dotnet",
                $"\"{cli}\" serve --model \"{model}\" --urls http://127.0.0.1:{port} --batch-rows {r} --queue {clients.Max()} --max-steps {Math.Max(steps, 1)}{threadFlag}")
            { RedirectStandardError = true, RedirectStandardOutput = true })!;
            server.ErrorDataReceived += (_, _) => { };
            server.BeginErrorReadLine();
            server.BeginOutputReadLine();
            try
            {
                using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(seconds + 30) };
                WaitHealthy(http, server);
                string id = Path.GetFileName(model.TrimEnd(Path.DirectorySeparatorChar));
                string Body(int i) => $"{{\"model\":\"{id}\",\"messages\":[{{\"role\":\"user\",\"content\":\"Question {i}: who was king?\"}}],\"max_tokens\":{maxTokens},\"steps\":{steps}{extra}}}";
                Post(http, Body(0), CancellationToken.None).GetAwaiter().GetResult(); // warm up (JIT)
                var one = Stopwatch.StartNew();
                Post(http, Body(1), CancellationToken.None).GetAwaiter().GetResult();
                double alone = one.Elapsed.TotalMilliseconds;
                foreach (int c in clients)
                {
                    var (ok, other, unfinished, wall, latencies) = Load(http, Body, requests, c, seconds);
                    latencies.Sort();
                    double P(double q) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)(q * latencies.Count))];
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{(r == 1 ? "one-at-a-time" : $"batched ({r} rows)"),-15} {c,7} {ok,9} {other,6} {unfinished,11} {ok / wall,7:F2} {P(0.5),8:F0} {P(0.95),8:F0} {alone,10:F0}"));
                }
            }
            finally
            {
                if (!server.HasExited) server.Kill(entireProcessTree: true);
                server.WaitForExit();
            }
        }
        return 0;
    }

    /// <summary>
    /// <c>--random DxL</c> (e.g. 512x8, about 35M parameters with the byte vocabulary): a random-weight model of width D
    /// and L layers with the tokenizer and the rest of the config of <paramref name="like"/>, written to a temp directory.
    /// </summary>
    private static string RandomModel(string like, string shape)
    {
        string[] parts = shape.Split('x');
        int d = int.Parse(parts[0], CultureInfo.InvariantCulture), layers = int.Parse(parts[1], CultureInfo.InvariantCulture);
        Dllm.Model.ModelConfig config = Dllm.Model.ModelConfig.Load(Path.Combine(like, "config.json")) with
        {
            DModel = d, NLayers = layers, NHeads = Math.Max(1, d / 64), NKvHeads = Math.Max(1, d / 64), MlpHiddenSize = d * 11 / 4,
        };
        string dir = Path.Combine(Path.GetTempPath(), $"dllm-load-random-{shape}");
        Directory.CreateDirectory(dir);
        var m = Dllm.Training.TrainableModel.Create(config, seed: 1);
        Dllm.Training.TrainingCheckpoint.Save(dir, m, new Dllm.Training.AdamW(m.Parameters), new Dllm.Training.TrainerState(0, 1, "mdm", 0),
            Dllm.Text.TokenizerLoader.Load(like));
        Console.WriteLine($"random model {shape}: {m.Parameters.DeclaredCount:N0} parameters in {dir}");
        return dir;
    }

    private static (int Ok, int Other, int Unfinished, double Wall, List<double> Latencies) Load(HttpClient http, Func<int, string> body, int requests, int clients, double seconds)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        int next = -1, ok = 0, other = 0;
        var latencies = new List<double>();
        var clock = Stopwatch.StartNew();
        Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            int i;
            while (!deadline.IsCancellationRequested && (i = Interlocked.Increment(ref next)) < requests)
            {
                var sw = Stopwatch.StartNew();
                try
                {
                    int status = await Post(http, body(i), deadline.Token);
                    lock (latencies)
                    {
                        if (status == 200) { ok++; latencies.Add(sw.Elapsed.TotalMilliseconds); }
                        else other++;
                    }
                }
                catch (OperationCanceledException) { return; }
            }
        }))).GetAwaiter().GetResult();
        return (ok, other, Math.Max(0, Math.Min(requests, next) - ok - other), clock.Elapsed.TotalSeconds, latencies);
    }

    private static async Task<int> Post(HttpClient http, string body, CancellationToken ct)
    {
        using HttpResponseMessage r = await http.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"), ct);
        await r.Content.ReadAsByteArrayAsync(ct);
        return (int)r.StatusCode;
    }

    private static void WaitHealthy(HttpClient http, Process server)
    {
        for (int i = 0; i < 600; i++)
        {
            if (server.HasExited) throw new InvalidOperationException($"the server exited with code {server.ExitCode}");
            try { if (http.GetFromJsonAsync<object>("/health").GetAwaiter().GetResult() is not null) return; }
            catch (HttpRequestException) { }
            Thread.Sleep(100);
        }
        throw new TimeoutException("the server did not answer /health within 60 s");
    }

    private static string Find(string relative)
    {
        for (DirectoryInfo? d = new(Directory.GetCurrentDirectory()); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, relative);
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"{relative} not found above {Directory.GetCurrentDirectory()} (pass it explicitly; build the CLI with -c Release)");
    }
}
