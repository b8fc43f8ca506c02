using Dllm.Sampling;
using Dllm.Text;

namespace Dllm.Chat;

/// <summary>
/// One picture of the answer canvas after a denoising step, for live views (the web page, a terminal):
/// each answer position's token text (decoded on its own), and the score it was committed with, or null
/// while it is masked.
/// </summary>
/// <param name="Step">Step index (0-based, over the whole generation).</param>
/// <param name="Block">Current semi-autoregressive block.</param>
/// <param name="Tokens">[gen_length] the token text of each answer position; "" when masked. Special tokens
/// are spelled out (e.g. <c>&lt;|endoftext|&gt;</c>).</param>
/// <param name="Confidence">[gen_length] the ordering's score when the position was committed (for
/// low_confidence: the token's probability), null while masked.</param>
/// <param name="Committed">Answer positions committed by this step.</param>
public sealed record CanvasFrame(int Step, int Block, string[] Tokens, double?[] Confidence, int[] Committed);

/// <summary>
/// Builds <see cref="CanvasFrame"/>s from successive <see cref="DenoisingStep"/>s: a step reports only the
/// positions it committed and their scores, so the view remembers every position's score until it is
/// remasked (ReMDM). Token texts are cached per id.
/// </summary>
/// <remarks>Not thread-safe; one per generation. A byte-level token holding part of a UTF-8 character shows
/// as U+FFFD on its own (the streamed text, built from whole prefixes, does not).</remarks>
public sealed class CanvasView(ITokenizer tokenizer, int maskId)
{
    private readonly Dictionary<int, string> _texts = [];
    private double?[]? _confidence;

    /// <summary>The frame after <paramref name="step"/>. Needs the step's canvas snapshot.</summary>
    /// <exception cref="ArgumentException">The step carries no canvas snapshot.</exception>
    public CanvasFrame Update(DenoisingStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (step.Canvas.Length == 0) throw new ArgumentException("the step has no canvas snapshot");
        int start = step.PromptLength, n = step.Canvas.Length - start;
        _confidence ??= new double?[n];
        if (_confidence.Length != n) throw new ArgumentException($"canvas answer length changed from {_confidence.Length} to {n}");
        foreach (int p in step.RemaskedPositions) if (p >= start) _confidence[p - start] = null;
        var committed = new List<int>();
        for (int i = 0; i < step.CommittedPositions.Length; i++)
        {
            int p = step.CommittedPositions[i] - start;
            if ((uint)p >= (uint)n) continue;
            _confidence[p] = step.CommittedScores[i];
            committed.Add(p);
        }
        var tokens = new string[n];
        var confidence = new double?[n];
        for (int i = 0; i < n; i++)
        {
            int id = step.Canvas[start + i];
            if (id == maskId) { tokens[i] = ""; continue; }
            tokens[i] = TextOf(id);
            confidence[i] = _confidence[i] ?? 1.0; // committed before this view existed: treat as certain
        }
        return new CanvasFrame(step.Step, step.Block, tokens, confidence, [.. committed]);
    }

    private string TextOf(int id)
    {
        if (!_texts.TryGetValue(id, out string? text)) _texts[id] = text = tokenizer.Decode([id]);
        return text;
    }
}
