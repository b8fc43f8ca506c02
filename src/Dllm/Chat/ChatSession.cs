using Dllm.Sampling;
using Dllm.Text;

namespace Dllm.Chat;

/// <summary>One answered turn of a <see cref="ChatSession"/>.</summary>
/// <param name="Completion">The answer (EOS and end-of-turn already stripped).</param>
/// <param name="DroppedMessages">Earliest messages dropped from the history so that prompt + answer canvas fit
/// the model's context (0 when everything fit).</param>
public sealed record ChatTurn(Completion Completion, int DroppedMessages);

/// <summary>
/// A multi-turn conversation over a <see cref="CompletionEngine"/>: the whole history goes through the
/// chat template on every turn (a dLLM has no KV cache across turns to reuse), and each answer is stored
/// as its text, so the EOS padding the model denoised never reaches the next prompt — the template closes
/// the assistant turn with <c>&lt;|eot_id|&gt;</c> instead, as in the SFT data.
/// </summary>
/// <remarks>
/// <para>Context: when prompt + gen_length would exceed the model's maximum sequence length, the oldest
/// user/assistant pairs are dropped (for good) until it fits; if the new message alone does not fit, the
/// engine's "context_length_exceeded" error is thrown and the history is unchanged.</para>
/// <para>A cancelled or failed turn leaves the history as it was (the question is not kept). Not
/// thread-safe: one turn at a time.</para>
/// </remarks>
public sealed class ChatSession
{
    private readonly CompletionEngine _engine;
    private readonly List<ChatMessage> _history = [];

    /// <param name="engine">The engine that denoises answers.</param>
    /// <param name="knobs">Decoding settings, changed in place by <c>/set</c> and built into options every turn;
    /// a fresh default set when null.</param>
    public ChatSession(CompletionEngine engine, DecodingKnobs? knobs = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
        Knobs = knobs ?? new DecodingKnobs();
    }

    /// <summary>The decoding settings used for the next turn.</summary>
    public DecodingKnobs Knobs { get; }

    /// <summary>The conversation so far, user and assistant messages alternating.</summary>
    public IReadOnlyList<ChatMessage> History => _history;

    /// <summary>Forgets the conversation (knobs are kept).</summary>
    public void Reset() => _history.Clear();

    /// <summary>Answers <paramref name="userText"/> given the history, then appends both to it.</summary>
    /// <param name="userText">The user's message.</param>
    /// <param name="onStep">Each denoising step's canvas, for a live view.</param>
    /// <param name="cancellationToken">Stops the answer within one step; the history is then unchanged.</param>
    /// <exception cref="DecodingOptionException">Knobs that do not build into valid options.</exception>
    /// <exception cref="InvalidRequestException">The message alone is longer than the context.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public ChatTurn Ask(string userText, Action<DenoisingStep>? onStep = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userText);
        DecodingOptions options = Knobs.Build(_engine.EosId);
        int gen = options.GenLength;
        var messages = new List<ChatMessage>(_history) { new("user", userText) };
        List<int> prompt = _engine.ChatPrompt(messages);
        int dropped = 0;
        while (prompt.Count + gen > _engine.Model.MaxSequenceLength && messages.Count > 2)
        {
            messages.RemoveRange(0, 2); // the oldest user/assistant pair
            dropped += 2;
            prompt = _engine.ChatPrompt(messages);
        }
        Completion answer = _engine.Complete(prompt, options, onStep, cancellationToken: cancellationToken);
        _history.RemoveRange(0, dropped);
        _history.Add(new ChatMessage("user", userText));
        _history.Add(new ChatMessage(ChatTemplate.AssistantRole, answer.Text));
        return new ChatTurn(answer, dropped);
    }
}
