using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Dllm.Sampling;
using Microsoft.Extensions.AI;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using TurnMessage = Dllm.Text.ChatMessage;

namespace Dllm.Chat;

/// <summary>
/// <see cref="IChatClient"/> (Microsoft.Extensions.AI) over a <see cref="CompletionEngine"/>: any code written
/// against IChatClient can chat with a diffusion model in-process. The diffusion knobs go in
/// <see cref="ChatOptions.AdditionalProperties"/> by name (<c>["steps"] = 64</c>, <c>["remasking"] = "random"</c>;
/// see <see cref="DecodingKnobs"/>); <see cref="ChatOptions.MaxOutputTokens"/>, <see cref="ChatOptions.Temperature"/>,
/// <see cref="ChatOptions.Seed"/>, <see cref="ChatOptions.StopSequences"/> and <see cref="ChatOptions.Instructions"/>
/// (a leading system message) are honoured.
/// </summary>
/// <remarks>
/// <para>Refused with an <see cref="InvalidRequestException"/> (its Field names the option) rather than silently
/// ignored: tools, a non-text response format, TopP ≠ 1, TopK, penalties ≠ 0, non-text message content, roles
/// other than system, user and assistant, unknown additional properties, and knob values that are of the wrong
/// type, out of range or in conflict.</para>
/// <para>Generation runs on a thread-pool thread; the engine serves one request at a time. Streaming yields the
/// text as it becomes final left to right, then an update carrying the finish reason and usage.</para>
/// </remarks>
public sealed class DiffusionChatClient : IChatClient
{
    private readonly CompletionEngine _engine;
    private readonly DecodingKnobs _defaults;
    private readonly string _modelId;

    /// <param name="engine">The engine to run.</param>
    /// <param name="modelId">Reported as the model id (e.g. the checkpoint directory's name).</param>
    /// <param name="defaults">Knobs every request starts from (copied); null = <see cref="DecodingKnobs"/> defaults.</param>
    public DiffusionChatClient(CompletionEngine engine, string modelId, DecodingKnobs? defaults = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        _engine = engine;
        _modelId = modelId;
        _defaults = defaults?.Clone() ?? new DecodingKnobs();
    }

    /// <inheritdoc/>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (prompt, decoding, stops) = Prepare(messages, options);
        Completion c = await Task.Run(() => _engine.Complete(prompt, decoding, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        var (text, stopped) = stops.Cut(c.Text);
        return new ChatResponse(new AiChatMessage(ChatRole.Assistant, text))
        {
            ModelId = _modelId,
            ResponseId = NewId(),
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = stopped || c.FinishReason == FinishReason.Stop ? ChatFinishReason.Stop : ChatFinishReason.Length,
            Usage = Usage(c),
            RawRepresentation = c,
        };
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (prompt, decoding, stops) = Prepare(messages, options);
        var pieces = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task<Completion> generation = Task.Run(() =>
        {
            try
            {
                return _engine.Complete(prompt, decoding, onText: p =>
                {
                    string safe = stops.Feed(p);
                    if (safe.Length > 0) pieces.Writer.TryWrite(safe);
                }, cancellationToken: cts.Token);
            }
            finally { pieces.Writer.TryComplete(); }
        }, cts.Token);

        string id = NewId();
        try
        {
            await foreach (string piece in pieces.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return new ChatResponseUpdate(ChatRole.Assistant, piece) { ModelId = _modelId, ResponseId = id, MessageId = id };
            Completion c = await generation.ConfigureAwait(false);
            string rest = stops.Flush();
            if (rest.Length > 0) yield return new ChatResponseUpdate(ChatRole.Assistant, rest) { ModelId = _modelId, ResponseId = id, MessageId = id };
            yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(c))])
            {
                ModelId = _modelId, ResponseId = id, MessageId = id,
                FinishReason = stops.Stopped || c.FinishReason == FinishReason.Stop ? ChatFinishReason.Stop : ChatFinishReason.Length,
            };
        }
        finally
        {
            // A consumer that stops enumerating early also stops the generation.
            cts.Cancel();
            try { await generation.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return new ChatClientMetadata("dllm", null, _modelId);
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType.IsInstanceOfType(_engine)) return _engine;
        return null;
    }

    /// <summary>Nothing to release: the engine (and its model) belong to the caller.</summary>
    public void Dispose() { }

    private (List<int> Prompt, DecodingOptions Decoding, StopSequences Stops) Prepare(IEnumerable<AiChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var turns = new List<TurnMessage>();
        if (!string.IsNullOrWhiteSpace(options?.Instructions)) turns.Add(new TurnMessage("system", options.Instructions));
        foreach (AiChatMessage m in messages) turns.Add(Turn(m));
        DecodingKnobs knobs = _defaults.Clone();
        if (options is not null)
        {
            if (options.Tools is { Count: > 0 }) throw new InvalidRequestException("tools are not supported by a diffusion chat client", "tools");
            if (options.ResponseFormat is not null and not ChatResponseFormatText) throw new InvalidRequestException("only the text response format is supported", "response_format");
            if (options.TopP is float p && p != 1) throw new InvalidRequestException($"top_p = {p} is not supported (sampling uses the whole distribution); leave it unset", "top_p");
            if (options.TopK is not null) throw new InvalidRequestException("top_k is not supported; leave it unset", "top_k");
            if (options.FrequencyPenalty is float f && f != 0) throw new InvalidRequestException("frequency_penalty is not supported; leave it unset", "frequency_penalty");
            if (options.PresencePenalty is float pp && pp != 0) throw new InvalidRequestException("presence_penalty is not supported; leave it unset", "presence_penalty");
        }
        DecodingOptions decoding;
        try
        {
            if (options?.MaxOutputTokens is int max) knobs.Set("max_tokens", max);
            if (options?.Temperature is float t) knobs.Set("temperature", (double)t);
            if (options?.Seed is long seed) knobs.Set("seed", seed);
            if (options?.AdditionalProperties is { } extra)
                foreach (var (name, value) in extra) knobs.Set(name, value); // unknown names and wrong types throw, naming the key
            decoding = knobs.Build(_engine.EosId);
        }
        catch (DecodingOptionException e) { throw new InvalidRequestException(e.Message, e.Knob); }
        List<int> prompt = _engine.ChatPrompt(turns);
        decoding = _engine.Check(prompt, decoding); // fail before any thread is started
        return (prompt, decoding, new StopSequences(options?.StopSequences ?? []));
    }

    private static TurnMessage Turn(AiChatMessage m)
    {
        ArgumentNullException.ThrowIfNull(m);
        string role = m.Role == ChatRole.System ? "system" : m.Role == ChatRole.User ? "user" : m.Role == ChatRole.Assistant ? "assistant"
            : throw new InvalidRequestException($"role '{m.Role}' is not supported (system, user or assistant)", "role");
        foreach (AIContent c in m.Contents)
            if (c is not TextContent and not UsageContent)
                throw new InvalidRequestException($"only text content is supported, got {c.GetType().Name}", "contents");
        return new TurnMessage(role, m.Text);
    }

    private static UsageDetails Usage(Completion c) => new()
    {
        InputTokenCount = c.PromptTokens,
        OutputTokenCount = c.CompletionTokens,
        TotalTokenCount = c.PromptTokens + c.CompletionTokens,
    };

    private static string NewId() => "dllm-" + Guid.NewGuid().ToString("N")[..24];
}
