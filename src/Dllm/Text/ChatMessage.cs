namespace Dllm.Text;

/// <summary>One turn of a conversation.</summary>
/// <param name="Role">Who speaks: "system", "user" or "assistant" for LLaDA-Instruct (any text is accepted
/// and written into the header as is).</param>
/// <param name="Content">What was said. <see cref="ChatTemplate"/> trims leading and trailing whitespace,
/// as LLaDA's template does.</param>
public sealed record ChatMessage(string Role, string Content);
