using System.Diagnostics;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;

namespace Dllm.Chat;

/// <summary>
/// Chat and text completion over a denoising model: a conversation (chat template) or raw text becomes
/// prompt ids, <see cref="DiffusionSampler"/> denoises the answer with the given <see cref="DecodingOptions"/>,
/// and the answer comes back as text with EOS / end-of-turn stripped (<see cref="GeneratedText.Answer"/>), its ids,
/// token counts and cost.
/// What <c>dllm chat</c>, <c>dllm serve</c> and the IChatClient share.
/// </summary>
/// <remarks>
/// <para>Thread safety: generations go through one <see cref="ContinuousBatcher"/>, so concurrent callers
/// share the model's forward passes (step-level batching: one forward per denoising round over every active
/// request, up to <see cref="BatchLimits.MaxRows"/>; the others wait in arrival order). Without a KV cache each
/// answer equals the one decoded alone. Servers that must bound waiting put their own queue in front.</para>
/// <para>Cancellation is checked before every denoising round: a cancelled generation leaves the batch within one
/// forward pass and throws <see cref="OperationCanceledException"/>.</para>
/// </remarks>
public sealed class CompletionEngine
{
    private readonly ContinuousBatcher _batcher;
    private long _stepsRun;

    /// <param name="model">The mask predictor.</param>
    /// <param name="tokenizer">Text to ids and back; knows the chat special tokens for chat prompts.</param>
    /// <param name="maskId">The mask id (LLaDA config's mask_token_id).</param>
    /// <param name="eosId">The end-of-sequence id (LLaDA config's eos_token_id).</param>
    /// <param name="batching">Bounds on the requests that share a forward; null = <see cref="BatchLimits"/>' defaults
    /// (MaxRows 1 = one generation at a time).</param>
    /// <exception cref="ArgumentOutOfRangeException">The mask or EOS id is outside the model's vocabulary, or a limit below 1.</exception>
    public CompletionEngine(IDenoisingModel model, ITokenizer tokenizer, int maskId, int eosId, BatchLimits? batching = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        // Left padding holds EOS (any id works: the key mask hides it).
        _batcher = new ContinuousBatcher(model, maskId, eosId, batching);
        Model = model;
        Tokenizer = tokenizer;
        MaskId = maskId;
        EosId = eosId;
        EndOfTurnId = GeneratedText.EndOfTurnId(tokenizer);
    }

    /// <summary>The model.</summary>
    public IDenoisingModel Model { get; }
    /// <summary>The tokenizer.</summary>
    public ITokenizer Tokenizer { get; }
    /// <summary>The mask id.</summary>
    public int MaskId { get; }
    /// <summary>The end-of-sequence id.</summary>
    public int EosId { get; }
    /// <summary>The batcher the generations share (for metrics: forwards, rows per forward, active rows).</summary>
    public ContinuousBatcher Batcher => _batcher;
    /// <summary>The tokenizer's end-of-turn id (<see cref="GeneratedText.EndOfTurnId"/>), or null; it ends an answer as EOS does.</summary>
    public int? EndOfTurnId { get; }

    /// <summary>Denoising steps run by this engine so far, over all requests (live: updated every step).</summary>
    public long StepsRun => Interlocked.Read(ref _stepsRun);

    /// <summary>Generations finished since construction, and the seconds they took (wall time from submission,
    /// overlapping when batched; for metrics).</summary>
    public long GenerationsRun => Interlocked.Read(ref _generationsRun);
    public double GenerationSeconds => Interlocked.Read(ref _generationTicks) / (double)TimeSpan.TicksPerSecond;
    private long _generationsRun, _generationTicks;

    /// <summary>The vocabulary's JSON token classes for structured output (built on first use).</summary>
    /// <exception cref="InvalidOperationException">The vocabulary cannot write JSON numbers or white space.</exception>
    public Structured.JsonTokenClasses JsonClasses
        => LazyInitializer.EnsureInitialized(ref _jsonClasses, () => new Structured.JsonTokenClasses(Tokenizer, Model.VocabSize));
    private Structured.JsonTokenClasses? _jsonClasses;

    /// <summary>The prompt ids of a conversation: the model's chat template (or the built-in LLaDA one) with the assistant turn opened (<see cref="ChatTemplate.Apply"/>).</summary>
    /// <exception cref="InvalidRequestException">No messages.</exception>
    /// <exception cref="InvalidDataException">The tokenizer lacks the chat special tokens.</exception>
    public List<int> ChatPrompt(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0) throw new InvalidRequestException("messages must contain at least one message", "messages");
        return ChatTemplate.Apply(Tokenizer, messages);
    }

    /// <summary>The prompt ids of raw text (no template, no BOS: as <c>dllm generate --raw</c>).</summary>
    public List<int> TextPrompt(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [.. Tokenizer.Encode(text)];
    }

    /// <summary>
    /// Checks <paramref name="options"/> against this prompt and model without generating: what
    /// <see cref="Complete"/> checks first, for callers that want to reject a request before queueing it.
    /// </summary>
    /// <returns>The options <see cref="Complete"/> decodes with: <paramref name="options"/>, with this engine's
    /// <see cref="EosId"/> when it has none (and, with a <paramref name="schema"/>, the template's canvas length).</returns>
    /// <exception cref="DecodingOptionException">Invalid options.</exception>
    /// <exception cref="InvalidRequestException">A prompt id outside the vocabulary, a knob this model cannot
    /// serve (a cache without a KV cache, CFG without a prompt), or prompt + gen_length longer than the model's
    /// context (<see cref="InvalidRequestException.Code"/> "context_length_exceeded", no field: the caller
    /// knows whether it came from messages or a prompt).</exception>
    public DecodingOptions Check(IReadOnlyList<int> prompt, DecodingOptions options, IReadOnlyList<int>? suffix = null, Structured.SchemaNode? schema = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        if (schema is not null)
        {
            // The answer canvas is the schema's template: its length replaces gen_length; steps are capped at its value positions.
            if (suffix is { Count: > 0 }) throw new InvalidRequestException("structured output and a suffix (fill in the middle) cannot be combined", "suffix");
            var template = Structured.JsonTemplate.Build(schema, JsonClasses, MaskId, Model.MaxSequenceLength);
            int values = template.Slots.Sum(s => s.Width);
            options = options with
            {
                GenLength = template.Tokens.Length, BlockLength = null, MaxTokens = null, InfillBlockLength = null,
                Steps = Math.Max(1, Math.Min(options.Steps, values)),
            };
        }
        if (options.EosId is null) options = options with { EosId = EosId };
        options.Validate();
        int gen = options.GenLength, context = Model.MaxSequenceLength, after = suffix?.Count ?? 0;
        if ((long)prompt.Count + gen + after > context)
            throw new InvalidRequestException(
                $"the prompt ({prompt.Count} tokens) plus the answer canvas ({gen} tokens){(after > 0 ? $" plus the suffix ({after} tokens)" : "")} is {prompt.Count + gen + after} tokens, more than the model's context of {context} tokens; shorten the prompt or lower max_tokens/gen_length",
                code: "context_length_exceeded");
        foreach (int id in prompt)
            if ((uint)id >= (uint)Model.VocabSize) throw new InvalidRequestException($"prompt token id {id} is outside the vocabulary [0, {Model.VocabSize})", "prompt");
        foreach (int id in suffix ?? [])
            if ((uint)id >= (uint)Model.VocabSize) throw new InvalidRequestException($"suffix token id {id} is outside the vocabulary [0, {Model.VocabSize})", "suffix");
        if (options.Cache != CacheMode.None && Model is not ICachingDenoisingModel)
            throw new InvalidRequestException($"cache '{options.Cache.ToString().ToLowerInvariant()}' needs a model with a KV cache; this one has none (use cache none)", "cache");
        if (options.CfgScale > 0 && prompt.Count == 0)
            throw new InvalidRequestException("cfg_scale > 0 needs a non-empty prompt", "cfg_scale");
        return options;
    }

    /// <summary>
    /// Denoises an answer after <paramref name="prompt"/>, blocking until it is done (see <see cref="CompleteAsync"/>).
    /// </summary>
    /// <exception cref="DecodingOptionException">Invalid options.</exception>
    /// <exception cref="InvalidRequestException">As <see cref="Check"/>.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public Completion Complete(IReadOnlyList<int> prompt, DecodingOptions options, Action<DenoisingStep>? onStep = null,
        Action<string>? onText = null, CancellationToken cancellationToken = default, IReadOnlyList<int>? suffix = null)
        => CompleteAsync(prompt, options, onStep, onText, cancellationToken, suffix).GetAwaiter().GetResult();

    /// <summary>
    /// Denoises an answer after <paramref name="prompt"/>, sharing forward passes with concurrent requests.
    /// </summary>
    /// <param name="prompt">Prompt ids (from <see cref="ChatPrompt"/> or <see cref="TextPrompt"/>).</param>
    /// <param name="options">How to decode; checked here (<see cref="Check"/>). <see cref="DecodingOptions.MaxAnswerTokens"/>
    /// caps the answer.</param>
    /// <param name="onStep">Called after every denoising step with the canvas snapshot (live views), on the batch's thread.</param>
    /// <param name="onText">Called with each newly final piece of answer text, left to right
    /// (<see cref="CommittedText"/>); the pieces add up to the returned <see cref="Completion.Text"/>.
    /// With a ReMDM loop (which can remask committed tokens) everything comes in one piece at the end.</param>
    /// <param name="cancellationToken">Takes the generation out of the batch before its next step.</param>
    /// <param name="suffix">Fill in the middle: when given, the answer canvas (gen_length masks) is denoised
    /// between <paramref name="prompt"/> and these ids, which stay as they are; the answer is the middle,
    /// cut at its first EOS, so the model chooses its length up to the canvas (as code editors' FIM requests
    /// expect). The masks form one block (the suffix conditions every position from the first step).</param>
    /// <exception cref="DecodingOptionException">Invalid options.</exception>
    /// <exception cref="InvalidRequestException">As <see cref="Check"/>, e.g. prompt + gen_length longer than the
    /// model's context (<see cref="InvalidRequestException.Code"/> "context_length_exceeded").</exception>
    /// <param name="schema">Structured output: when given, the answer is JSON that validates against this schema,
    /// by construction (<see cref="Structured.JsonTemplate"/>: the scaffold is given, each value slot constrained);
    /// gen_length, block_length and max_tokens are then the template's (steps are capped at its value positions).</param>
    /// <exception cref="OperationCanceledException">Cancelled (in the task).</exception>
    public async Task<Completion> CompleteAsync(IReadOnlyList<int> prompt, DecodingOptions options, Action<DenoisingStep>? onStep = null,
        Action<string>? onText = null, CancellationToken cancellationToken = default, IReadOnlyList<int>? suffix = null,
        Structured.SchemaNode? schema = null)
    {
        options = Check(prompt, options, suffix, schema);
        InfillCanvas? structured = null;
        if (schema is not null)
        {
            var template = Structured.JsonTemplate.Build(schema, JsonClasses, MaskId);
            structured = new InfillCanvas([.. prompt, .. template.Tokens])
            {
                Constraint = new Structured.JsonConstraint(template, JsonClasses, prompt.Count, MaskId),
            };
        }
        int cap = options.MaxAnswerTokens;

        var tracker = onText is null ? null : new CommittedText(Tokenizer, MaskId, EosId, EndOfTurnId, cap);
        bool streamLive = options.Remdm is null;
        var clock = Stopwatch.StartNew();
        void Step(DenoisingStep step)
        {
            Interlocked.Increment(ref _stepsRun);
            onStep?.Invoke(step);
            if (tracker is not null && streamLive)
            {
                string piece = tracker.Advance(step.Canvas.AsSpan(prompt.Count)); // the answer starts after the prompt (an infill's first mask may be later)
                if (piece.Length > 0) onText!(piece);
            }
        }

        GenerationResult result = await (structured is not null ? _batcher.FillAsync(structured, options, Step, cancellationToken)
            : suffix is { Count: > 0 }
            ? _batcher.FillAsync(new InfillCanvas([.. prompt, .. Enumerable.Repeat(MaskId, options.GenLength), .. suffix]),
                options with { InfillBlockLength = null }, Step, cancellationToken)
            : _batcher.GenerateAsync(prompt, options, Step, cancellationToken)).ConfigureAwait(false);
        clock.Stop();
        Interlocked.Increment(ref _generationsRun);
        Interlocked.Add(ref _generationTicks, clock.Elapsed.Ticks);

        // The answer is the canvas after the prompt (for fill in the middle: up to the suffix).
        int[] middle = result.Canvas[prompt.Count..(prompt.Count + options.GenLength)];
        AnswerText answer = GeneratedText.Answer(Tokenizer, middle, EosId, cap);
        if (tracker is not null)
        {
            string rest = tracker.Finish(answer.Text);
            if (rest.Length > 0) onText!(rest);
        }
        return new Completion(answer.Text, answer.Ids, prompt.Count, answer.Ids.Length, answer.Stopped || structured is not null ? FinishReason.Stop : FinishReason.Length)
        {
            Steps = result.Steps, Nfe = result.Nfe, ForwardPasses = result.ForwardPasses,
            StoppedEarly = result.StoppedEarly, Elapsed = clock.Elapsed, Options = options,
        };
    }
}
