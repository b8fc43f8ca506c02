using System.Reflection;
using Dllm.Chat;
using Dllm.Sampling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Dllm.Cli.Serving;

/// <summary>
/// The <c>dllm serve</c> web application: an OpenAI-compatible API over one <see cref="CompletionEngine"/>
/// (GET /v1/models, POST /v1/chat/completions, POST /v1/completions), the web page at /, GET /health and
/// GET /metrics (Prometheus text). With an API key every /v1 request needs it (the page and probes do not).
/// Built here so tests can run the real server in-process on a loopback port.
/// </summary>
internal static class DllmServer
{
    /// <summary>Builds (does not start) the app listening on <paramref name="urls"/> (e.g. "http://127.0.0.1:0").</summary>
    public static WebApplication Build(CompletionEngine engine, ServerSettings settings, string urls, LogLevel logLevel = LogLevel.Warning)
    {
        settings.Validate();
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "dllm" });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(logLevel);
        builder.WebHost.UseUrls(urls);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = settings.MaxBodyBytes;
            k.Limits.MaxRequestHeadersTotalSize = 64 * 1024;
            k.AddServerHeader = false;
        });
        if (settings.CorsOrigins.Length > 0)
            builder.Services.AddCors(o => o.AddDefaultPolicy(p => p.WithOrigins(settings.CorsOrigins).AllowAnyHeader()
                .WithMethods("GET", "POST").WithExposedHeaders("Retry-After")));
        WebApplication app = builder.Build();
        if (settings.CorsOrigins.Length > 0) app.UseCors(); // first: a preflight is answered before the key check

        var queue = new GenerationQueue(settings.QueueCapacity, engine.Batcher.Limits.MaxRows);
        var handler = new CompletionHandler(engine, queue, settings, app.Logger);
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        byte[] page = LoadPage();

        // Every /v1 answer is counted by status (for /metrics); with --api-key, /v1 needs the Bearer key.
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, long>();
        app.Use(async (c, next) =>
        {
            bool api = c.Request.Path.StartsWithSegments("/v1");
            if (api && settings.ApiKey is { } key && c.Request.Headers.Authorization.ToString() != "Bearer " + key)
                await ApiError.BadApiKey().WriteAsync(c.Response);
            else await next(c);
            if (api) statuses.AddOrUpdate(c.Response.StatusCode, 1, (_, n) => n + 1);
        });

        app.MapGet("/", (HttpContext c) => Results.Bytes(page, "text/html; charset=utf-8"));
        app.MapGet("/metrics", () => Results.Text(Metrics(statuses, queue, engine), "text/plain; version=0.0.4; charset=utf-8"));
        app.MapGet("/health", () => Results.Json(new HealthReport("ok", queue.Admitted, queue.Rejected, engine.StepsRun), HealthJson.Default.HealthReport));
        app.MapGet("/v1/models", () => Results.Bytes(OpenAiJson.Models(settings.ModelId, created), "application/json"));
        app.MapGet("/v1/models/{id}", (string id) => id == settings.ModelId
            ? Results.Bytes(OpenAiJson.ModelObject(settings.ModelId, created), "application/json")
            : new ErrorResult(ApiError.ModelNotFound(id, settings.ModelId)));
        app.MapPost("/v1/chat/completions", (HttpContext c) => handler.HandleAsync(c, RequestKind.Chat));
        app.MapPost("/v1/completions", (HttpContext c) => handler.HandleAsync(c, RequestKind.Text));
        foreach (string path in new[] { "/v1/chat/completions", "/v1/completions" })
            app.MapMethods(path, ["GET", "PUT", "DELETE", "PATCH"], (HttpContext c) =>
            {
                c.Response.Headers.Allow = "POST";
                return new ErrorResult(new ApiError(StatusCodes.Status405MethodNotAllowed, $"{c.Request.Method} is not allowed on {path}; use POST", "invalid_request_error", null, "method_not_allowed"));
            });
        // Anything else under /v1: an OpenAI-style 404 rather than an empty one.
        app.Map("/v1/{**rest}", (HttpContext c) => new ErrorResult(new ApiError(StatusCodes.Status404NotFound,
            $"unknown endpoint {c.Request.Method} {c.Request.Path}; this server has /v1/models, /v1/chat/completions and /v1/completions",
            "invalid_request_error", null, "unknown_url")));
        return app;
    }

    /// <summary>GET /metrics in Prometheus' text format: /v1 responses by status, the queue, the denoising work.</summary>
    private static string Metrics(System.Collections.Concurrent.ConcurrentDictionary<int, long> statuses, GenerationQueue queue, CompletionEngine engine)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.Append("# HELP dllm_requests_total /v1 responses by HTTP status.\n# TYPE dllm_requests_total counter\n");
        foreach (var (status, n) in statuses.OrderBy(kv => kv.Key)) sb.Append(inv, $"dllm_requests_total{{status=\"{status}\"}} {n}\n");
        sb.Append(inv, $"# HELP dllm_queue_admitted Requests generating or waiting now.\n# TYPE dllm_queue_admitted gauge\ndllm_queue_admitted {queue.Admitted}\n");
        sb.Append(inv, $"# HELP dllm_queue_rejected_total Requests refused with 429 because the queue was full.\n# TYPE dllm_queue_rejected_total counter\ndllm_queue_rejected_total {queue.Rejected}\n");
        sb.Append(inv, $"# HELP dllm_generations_total Generations finished.\n# TYPE dllm_generations_total counter\ndllm_generations_total {engine.GenerationsRun}\n");
        sb.Append(inv, $"# HELP dllm_denoising_steps_total Denoising steps run (one forward each, two with CFG).\n# TYPE dllm_denoising_steps_total counter\ndllm_denoising_steps_total {engine.StepsRun}\n");
        sb.Append(inv, $"# HELP dllm_generation_seconds_total Seconds generations took, from submission (overlapping when batched).\n# TYPE dllm_generation_seconds_total counter\ndllm_generation_seconds_total {engine.GenerationSeconds:F6}\n");
        ContinuousBatcher b = engine.Batcher;
        sb.Append(inv, $"# HELP dllm_forwards_total Model forward passes (one per denoising round, shared by the batch's rows).\n# TYPE dllm_forwards_total counter\ndllm_forwards_total {b.Forwards}\n");
        sb.Append(inv, $"# HELP dllm_forward_rows_total Rows (requests) those forwards carried; rows per forward = this / dllm_forwards_total.\n# TYPE dllm_forward_rows_total counter\ndllm_forward_rows_total {b.ForwardRows}\n");
        sb.Append(inv, $"# HELP dllm_forward_seconds_total Seconds spent in denoising rounds.\n# TYPE dllm_forward_seconds_total counter\ndllm_forward_seconds_total {b.ForwardSeconds:F6}\n");
        sb.Append(inv, $"# HELP dllm_batch_rows Requests decoding now (rows of the next forward).\n# TYPE dllm_batch_rows gauge\ndllm_batch_rows {b.ActiveRows}\n");
        sb.Append(inv, $"# HELP dllm_batch_waiting Admitted requests waiting for a row.\n# TYPE dllm_batch_waiting gauge\ndllm_batch_waiting {b.Waiting}\n");
        return sb.ToString();
    }

    /// <summary>The addresses the started app really listens on (port 0 resolved).</summary>
    public static IReadOnlyList<string> Addresses(WebApplication app)
        => app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses.ToList() ?? [.. app.Urls];

    private static byte[] LoadPage()
    {
        using Stream s = Assembly.GetExecutingAssembly().GetManifestResourceStream("Dllm.Cli.Serving.index.html")
            ?? throw new InvalidOperationException("the web page resource is missing from the build");
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }
}

/// <summary>An <see cref="ApiError"/> as an endpoint result.</summary>
internal sealed class ErrorResult(ApiError error) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext) => error.WriteAsync(httpContext.Response);
}

/// <summary>GET /health: whether the server is up, its queue and how many steps it has run.</summary>
internal sealed record HealthReport(string Status, int Admitted, long Rejected, long Steps);

[System.Text.Json.Serialization.JsonSerializable(typeof(HealthReport))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
internal sealed partial class HealthJson : System.Text.Json.Serialization.JsonSerializerContext;
