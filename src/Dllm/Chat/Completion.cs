using Dllm.Sampling;

namespace Dllm.Chat;

/// <summary>Why an answer ended, in OpenAI's terms.</summary>
public enum FinishReason
{
    /// <summary>The model ended its answer (EOS or end of turn) before the cap: OpenAI "stop".</summary>
    Stop,
    /// <summary>The answer filled the canvas or reached max_tokens: OpenAI "length".</summary>
    Length,
}

/// <summary>A finished answer from <see cref="CompletionEngine.Complete"/>.</summary>
/// <param name="Text">The answer text: EOS / end-of-turn and everything after them removed, special tokens
/// skipped, at most max_tokens tokens.</param>
/// <param name="TokenIds">The answer ids <paramref name="Text"/> was decoded from.</param>
/// <param name="PromptTokens">Prompt length in tokens (OpenAI usage.prompt_tokens).</param>
/// <param name="CompletionTokens">Answer tokens returned, = TokenIds.Length (usage.completion_tokens). The
/// stop token and the EOS padding the model also denoised are not counted.</param>
/// <param name="FinishReason">Why it ended.</param>
public sealed record Completion(string Text, int[] TokenIds, int PromptTokens, int CompletionTokens, FinishReason FinishReason)
{
    /// <summary>Denoising steps taken.</summary>
    public int Steps { get; init; }
    /// <summary>Network function evaluations (a CFG pass counts twice).</summary>
    public int Nfe { get; init; }
    /// <summary>Model calls.</summary>
    public int ForwardPasses { get; init; }
    /// <summary>True when early stop ended decoding before the schedule did.</summary>
    public bool StoppedEarly { get; init; }
    /// <summary>Wall time from the request reaching the engine to its answer: denoising, plus any wait for a
    /// place in the batch (<see cref="Dllm.Sampling.ContinuousBatcher"/>).</summary>
    public TimeSpan Elapsed { get; init; }
    /// <summary>The decoding options that were used (<see cref="DecodingOptions.EosId"/> filled in).</summary>
    public DecodingOptions Options { get; init; } = new();

    /// <summary>OpenAI's spelling of <see cref="FinishReason"/>: "stop" or "length".</summary>
    public string FinishReasonName => FinishReason == FinishReason.Stop ? "stop" : "length";
}
