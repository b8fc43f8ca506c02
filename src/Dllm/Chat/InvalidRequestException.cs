namespace Dllm.Chat;

/// <summary>
/// A request the engine cannot serve because of what the caller asked for (no messages, a prompt id outside
/// the vocabulary, a prompt longer than the context, a knob this model cannot serve...). <see cref="Field"/>
/// names the offending field, so a server can fill OpenAI's <c>error.param</c>. A decoding knob that is
/// invalid in itself is a <see cref="Sampling.DecodingOptionException"/> instead (the IChatClient turns
/// those into this exception, one type for its callers).
/// </summary>
/// <remarks>It is an <see cref="ArgumentException"/>, so code that already turns argument errors into user
/// errors (the CLI runner) handles it unchanged; <see cref="Exception.Message"/> carries no
/// "(Parameter ...)" suffix.</remarks>
public sealed class InvalidRequestException(string message, string? field = null, string? code = null)
    : ArgumentException(message)
{
    /// <summary>The request field at fault (e.g. "steps", "messages"), or null when no single field is.</summary>
    public string? Field { get; } = field;

    /// <summary>A machine-readable reason, e.g. "context_length_exceeded"; null when none applies.</summary>
    public string? Code { get; } = code;

    /// <inheritdoc/>
    public override string Message { get; } = message;
}
