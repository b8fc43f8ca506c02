using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Dllm.Chat;
using Dllm.Sampling;
using Dllm.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Dllm.Cli.Serving;

/// <summary>
/// POST /v1/chat/completions and /v1/completions: read and check the request (before queueing, so a bad
/// request never waits), take a place in the queue, let the engine's step-level batch decode it and answer as one JSON
/// object or as server-sent events. The client's disconnect (HttpContext.RequestAborted) cancels the
/// generation before its next denoising step.
/// </summary>
/// <remarks>
/// Streams: <c>data: {chunk}</c> events carry text as it becomes final left to right
/// (<see cref="CommittedText"/>), then a chunk with finish_reason, then (stream_options.include_usage) a
/// chunk with usage, then <c>data: [DONE]</c>. With <c>"dllm_canvas": true</c>, <c>event: dllm.canvas</c>
/// events carry the canvas after every step (the web page). Events pass from the generation thread to the
/// response through an unbounded channel: at most one text and one canvas event per step, so its size is
/// bounded by the steps limit, and a slow client never stalls the model for the others.
/// </remarks>
internal sealed class CompletionHandler(CompletionEngine engine, GenerationQueue queue, ServerSettings settings, ILogger logger)
{
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public async Task HandleAsync(HttpContext context, RequestKind kind)
    {
        CancellationToken aborted = context.RequestAborted;
        ParsedRequest? request = null;
        try
        {
            using JsonDocument body = await ReadJsonAsync(context.Request, settings.MaxBodyBytes, aborted);
            request = RequestParser.Parse(body.RootElement, kind, settings);
            List<int> prompt = Prompt(request);
            int[]? suffix = request.Suffix is { Length: > 0 } s ? [.. engine.Tokenizer.Encode(s)] : null;
            DecodingOptions options = request.Knobs.Build(engine.EosId);
            CheckLimits(options, request); // the server's limits before the model's: absurd values get the clearest message
            if (request.Format.CallsTool) foreach (ToolSpec t in request.Format.Tools) engine.Check(prompt, options, schema: t.Parameters);
            else options = engine.Check(prompt, options, suffix, request.Format.Schema);
            using IDisposable lease = queue.Enter();
            if (request.Format.CallsTool) await ToolCallAsync(context, request, prompt, options, aborted);
            else if (request.Stream) await StreamAsync(context, request, prompt, suffix, options, aborted);
            else await AnswerAsync(context, request, prompt, suffix, options, aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            logger.LogInformation("request cancelled by the client");
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            ApiError error = ToApiError(e, request);
            if (error.Status >= 500) logger.LogError(e, "request failed");
            await error.WriteAsync(context.Response);
        }
        catch (Exception e)
        {
            logger.LogError(e, "stream failed after it started");
        }
    }

    private List<int> Prompt(ParsedRequest r)
    {
        if (r.Messages is not null && r.Format.CallsTool)
        {
            // The functions are described in the system turn (merged with the client's own, if it sent one first).
            List<ChatMessage> messages = [.. r.Messages];
            string tools = r.Format.ToolPrompt();
            if (messages[0].Role == "system") messages[0] = new ChatMessage("system", messages[0].Content + "\n\n" + tools);
            else messages.Insert(0, new ChatMessage("system", tools));
            return engine.ChatPrompt(messages);
        }
        if (r.Messages is not null) return engine.ChatPrompt(r.Messages);
        if (r.PromptIds is not null) return [.. r.PromptIds];
        return engine.TextPrompt(r.Prompt!);
    }

    private void CheckLimits(DecodingOptions options, ParsedRequest r)
    {
        if (options.GenLength > settings.MaxTokens)
            throw ApiError.BadRequest($"the answer canvas of {options.GenLength} tokens is more than this server's limit of {settings.MaxTokens} (max_tokens / gen_length)",
                r.Knobs.GenLength is null ? "max_tokens" : "gen_length");
        if (options.Steps > settings.MaxSteps)
            throw ApiError.BadRequest($"steps = {options.Steps} is more than this server's limit of {settings.MaxSteps}", "steps");
    }

    private async Task AnswerAsync(HttpContext context, ParsedRequest r, List<int> prompt, int[]? suffix, DecodingOptions options, CancellationToken aborted)
    {
        Completion c = await engine.CompleteAsync(prompt, options, cancellationToken: aborted, suffix: suffix, schema: r.Format.Schema);
        // Stop sequences would cut structured JSON: they apply to free text only.
        var (text, stopped) = r.Format.Schema is null ? new StopSequences(r.Stop).Cut(c.Text) : (c.Text, false);
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(new OpenAiJson(r.Kind, r.Model).Completion(text, stopped ? "stop" : c.FinishReasonName, c), aborted);
    }

    private async Task StreamAsync(HttpContext context, ParsedRequest r, List<int> prompt, int[]? suffix, DecodingOptions options, CancellationToken aborted)
    {
        var json = new OpenAiJson(r.Kind, r.Model);
        var events = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var stops = new StopSequences(r.Format.Schema is null ? r.Stop : []);
        var view = r.StreamCanvas ? new CanvasView(engine.Tokenizer, engine.MaskId) : null;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(aborted);

        async Task<Completion> Generate()
        {
            try
            {
                return await engine.CompleteAsync(prompt, options,
                    onStep: view is null ? null : s => events.Writer.TryWrite(Sse("dllm.canvas", OpenAiJson.Canvas(view.Update(s)))),
                    onText: piece =>
                    {
                        string safe = stops.Feed(piece);
                        if (safe.Length > 0) events.Writer.TryWrite(Sse(null, json.Chunk(safe)));
                    },
                    cancellationToken: cts.Token, suffix: suffix, schema: r.Format.Schema);
            }
            finally { events.Writer.TryComplete(); }
        }
        Task<Completion> generation = Generate();

        HttpResponse response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        try
        {
            await response.Body.WriteAsync(Sse(null, json.Chunk("", first: true)), aborted);
            await response.Body.FlushAsync(aborted);
            while (await events.Reader.WaitToReadAsync(aborted))
            {
                while (events.Reader.TryRead(out byte[]? e)) await response.Body.WriteAsync(e, aborted);
                await response.Body.FlushAsync(aborted); // one flush per batch of ready events
            }
            Completion c;
            try { c = await generation; }
            catch (Exception e) when (e is not OperationCanceledException || !aborted.IsCancellationRequested)
            {
                await response.Body.WriteAsync(Sse(null, ToApiError(e, r).ToJson()), aborted);
                logger.LogError(e, "generation failed during a stream");
                return;
            }
            string rest = stops.Flush();
            if (rest.Length > 0) await response.Body.WriteAsync(Sse(null, json.Chunk(rest)), aborted);
            await response.Body.WriteAsync(Sse(null, json.FinalChunk(stops.Stopped ? "stop" : c.FinishReasonName)), aborted);
            if (r.IncludeUsage) await response.Body.WriteAsync(Sse(null, json.UsageChunk(c)), aborted);
            await response.Body.WriteAsync(Done, aborted);
            await response.Body.FlushAsync(aborted);
        }
        finally
        {
            // The place is released by our caller after this returns: make sure the generation has really
            // left the batch first (it leaves within one round once cancelled).
            cts.Cancel();
            try { await generation; } catch { /* reported above or cancelled */ }
        }
    }

    /// <summary>
    /// A function call: the function (tool_choice's, the only one, or the model's choice among the names, itself a
    /// structured answer), then its arguments as a structured answer for its parameters schema. Streamed as one
    /// tool_calls chunk at the end (arguments are final only then).
    /// </summary>
    private async Task ToolCallAsync(HttpContext context, ParsedRequest r, List<int> prompt, DecodingOptions options, CancellationToken aborted)
    {
        OutputFormat f = r.Format;
        string name = f.ForcedTool ?? (f.Tools.Count == 1 ? f.Tools[0].Name : await ChooseToolAsync(f, prompt, options, aborted));
        ToolSpec tool = f.Tools.First(t => t.Name == name);
        Completion c = await engine.CompleteAsync(prompt, options, cancellationToken: aborted, schema: tool.Parameters);
        var json = new OpenAiJson(r.Kind, r.Model);
        HttpResponse response = context.Response;
        if (!r.Stream)
        {
            response.ContentType = "application/json";
            await response.Body.WriteAsync(json.ToolCall(name, c.Text, c), aborted);
            return;
        }
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        await response.Body.WriteAsync(Sse(null, json.Chunk("", first: true)), aborted);
        await response.Body.WriteAsync(Sse(null, json.ToolCallChunk(name, c.Text)), aborted);
        await response.Body.WriteAsync(Sse(null, json.FinalChunk("tool_calls")), aborted);
        if (r.IncludeUsage) await response.Body.WriteAsync(Sse(null, json.UsageChunk(c)), aborted);
        await response.Body.WriteAsync(Done, aborted);
        await response.Body.FlushAsync(aborted);
    }

    /// <summary>The model picks the function: a structured answer {"name": one of the names}.</summary>
    private async Task<string> ChooseToolAsync(OutputFormat f, List<int> prompt, DecodingOptions options, CancellationToken aborted)
    {
        var choice = new Dllm.Chat.Structured.SchemaNode(Dllm.Chat.Structured.SchemaKind.Object)
        {
            Properties = [("name", new Dllm.Chat.Structured.SchemaNode(Dllm.Chat.Structured.SchemaKind.Enum) { Choices = [.. f.Tools.Select(t => JsonSerializer.Serialize(t.Name))] })],
        };
        Completion c = await engine.CompleteAsync(prompt, options, cancellationToken: aborted, schema: choice);
        using JsonDocument d = JsonDocument.Parse(c.Text);
        return d.RootElement.GetProperty("name").GetString()!;
    }

    private static byte[] Sse(string? eventName, byte[] data)
    {
        var buffer = new MemoryStream(data.Length + 32);
        if (eventName is not null) buffer.Write(Encoding.UTF8.GetBytes($"event: {eventName}\n"));
        buffer.Write("data: "u8);
        buffer.Write(data);
        buffer.Write("\n\n"u8);
        return buffer.ToArray();
    }

    /// <summary>Reads the body (at most <paramref name="limit"/> bytes) and parses it as JSON.</summary>
    private static async Task<JsonDocument> ReadJsonAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit) throw ApiError.TooLarge(limit);
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16384];
        int n;
        while ((n = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + n > limit) throw ApiError.TooLarge(limit);
            buffer.Write(chunk, 0, n);
        }
        if (buffer.Length == 0) throw ApiError.BadRequest("the request body is empty; send a JSON object");
        try { return JsonDocument.Parse(buffer.ToArray(), new JsonDocumentOptions { MaxDepth = 64 }); }
        catch (JsonException e)
        {
            throw ApiError.BadRequest($"the request body is not valid JSON: {e.Message}", code: "invalid_json");
        }
    }

    private ApiError ToApiError(Exception e, ParsedRequest? r) => e switch
    {
        ApiError a => a,
        DecodingOptionException k => ApiError.BadRequest(k.Message, k.Knob),
        InvalidRequestException i => ApiError.BadRequest(i.Message, i.Field ?? (i.Code == "context_length_exceeded" ? r?.PromptField : null), i.Code),
        Microsoft.AspNetCore.Http.BadHttpRequestException b when b.StatusCode == StatusCodes.Status413PayloadTooLarge => ApiError.TooLarge(settings.MaxBodyBytes),
        Microsoft.AspNetCore.Http.BadHttpRequestException b => new ApiError(b.StatusCode, b.Message, "invalid_request_error"),
        ArgumentException => ApiError.BadRequest(e.Message),
        Dllm.Text.Jinja.TemplateException { RaisedByTemplate: true } t => ApiError.BadRequest($"the model's chat template refused the conversation: {t.Reason}", "messages"),
        _ => new ApiError(StatusCodes.Status500InternalServerError, "internal error: " + e.Message, "server_error"),
    };
}
