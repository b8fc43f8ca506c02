using Dllm.Chat;

namespace Dllm.Cli.Serving;

/// <summary>What <c>dllm serve</c> is configured with (flags), with the limits that protect it.</summary>
internal sealed record ServerSettings
{
    /// <summary>The id clients must send as "model" (the model directory's name).</summary>
    public required string ModelId { get; init; }

    /// <summary>Requests that may wait while the batch is full (the engine's BatchLimits.MaxRows decode); one more gets 429 queue_full.</summary>
    public int QueueCapacity { get; init; } = 16;

    /// <summary>Largest answer canvas (max_tokens / gen_length) a request may ask for.</summary>
    public int MaxTokens { get; init; } = 1024;

    /// <summary>Largest steps a request may ask for (each step is a forward pass).</summary>
    public int MaxSteps { get; init; } = 4096;

    /// <summary>Most messages in one chat request.</summary>
    public int MaxMessages { get; init; } = 256;

    /// <summary>Largest request body in bytes.</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;

    /// <summary>When set, every /v1 request must send "Authorization: Bearer" with this key (else 401).</summary>
    public string? ApiKey { get; init; }

    /// <summary>Browser origins allowed to call the API cross-origin (CORS, opt-in); empty = same origin only.</summary>
    public string[] CorsOrigins { get; init; } = [];

    /// <summary>Knob values a request starts from (the server's defaults); requests override them.</summary>
    public DecodingKnobs Defaults { get; init; } = new();

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelId)) throw new ArgumentException("the model id is empty");
        if (QueueCapacity < 0) throw new ArgumentException($"--queue must be ≥ 0, got {QueueCapacity}");
        if (MaxTokens < 1) throw new ArgumentException($"--max-tokens must be ≥ 1, got {MaxTokens}");
        if (MaxSteps < 1) throw new ArgumentException($"--max-steps must be ≥ 1, got {MaxSteps}");
        if (MaxMessages < 1) throw new ArgumentException($"--max-messages must be ≥ 1, got {MaxMessages}");
        if (MaxBodyBytes < 1024) throw new ArgumentException($"--max-body must be ≥ 1024 bytes, got {MaxBodyBytes}");
        foreach (string o in CorsOrigins)
            if (!Uri.TryCreate(o, UriKind.Absolute, out Uri? u) || u.Scheme is not ("http" or "https") || u.AbsolutePath != "/" || o.EndsWith('/'))
                throw new ArgumentException($"--cors-origin: '{o}' is not an origin like https://editor.example (scheme, host, optional port, no path)");
        if (ApiKey is { } key && (key.Length == 0 || key.Any(char.IsWhiteSpace)))
            throw new ArgumentException("--api-key must be a non-empty token without white space");
    }
}
