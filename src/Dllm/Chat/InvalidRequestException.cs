namespace Dllm.Chat;

/// <summary>
/// A request the engine cannot serve because of what the caller asked for (a knob of the wrong type or out
/// of range, a prompt longer than the context...). <see cref="Field"/> names the offending field as the
/// caller spelled it, so a server can fill OpenAI's <c>error.param</c> and a CLI can name the flag.
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
