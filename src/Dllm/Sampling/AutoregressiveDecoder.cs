using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Sampling;

/// <summary>What <see cref="AutoregressiveDecoder"/> produced for one prompt.</summary>
/// <param name="Answer">The generated tokens, up to and including the first EOS (if one came).</param>
/// <param name="ForwardPasses">Model calls this prompt needed (one per generated token: what decoding it
/// alone costs; a batch shares each call among its unfinished prompts).</param>
public sealed record AutoregressiveResult(int[] Answer, int ForwardPasses);

/// <summary>
/// Greedy left-to-right decoding for a causal model (one whose logits at position i depend on tokens
/// 0..i only, e.g. a <c>Transformer</c> whose config has model_kind autoregressive): each step runs the whole canvas, takes the argmax
/// at the last position and appends it. There is no KV cache (each step recomputes the canvas: O(L²)
/// work, fine for the short answers of the experiments). Prompts of different lengths are left-padded
/// with a key mask that hides the padding, so each answer equals decoding its prompt alone (RoPE
/// attention is shift-invariant). A sequence stops at its first EOS; the batch stops when all have.
/// </summary>
public sealed class AutoregressiveDecoder
{
    private readonly IDenoisingModel _model;

    public AutoregressiveDecoder(IDenoisingModel causalModel) => _model = causalModel ?? throw new ArgumentNullException(nameof(causalModel));

    /// <exception cref="ArgumentException">No tokens to generate, an empty prompt, or prompt + answer
    /// longer than the model's maximum sequence length.</exception>
    public IReadOnlyList<AutoregressiveResult> GreedyBatch(IReadOnlyList<IReadOnlyList<int>> prompts, int maxNewTokens, int eosId, int padId)
    {
        if (maxNewTokens <= 0) throw new ArgumentException($"max new tokens must be positive, got {maxNewTokens}");
        if (prompts.Count == 0) return [];
        int maxPrompt = prompts.Max(p => p.Count), v = _model.VocabSize, batch = prompts.Count;
        if (prompts.Any(p => p.Count == 0)) throw new ArgumentException("an empty prompt has no position to predict from (start prompts with BOS)");
        if (maxPrompt + maxNewTokens > _model.MaxSequenceLength)
            throw new ArgumentException($"prompt ({maxPrompt}) + {maxNewTokens} new tokens exceeds the model's maximum sequence length {_model.MaxSequenceLength}");
        var answers = new List<int>[batch];
        var done = new bool[batch];
        for (int b = 0; b < batch; b++) answers[b] = [];
        var logits = new float[batch * v];
        for (int step = 0; step < maxNewTokens && done.Contains(false); step++)
        {
            int length = maxPrompt + step;
            var tokens = new int[batch * length];
            var keyMask = new byte[batch * length];
            for (int b = 0; b < batch; b++)
            {
                int offset = maxPrompt - prompts[b].Count;
                Span<int> row = tokens.AsSpan(b * length, length);
                row[..offset].Fill(padId);
                for (int i = 0; i < prompts[b].Count; i++) row[offset + i] = prompts[b][i];
                // A finished sequence keeps being fed its last token; its answer no longer changes.
                for (int i = 0; i < step; i++) row[maxPrompt + i] = i < answers[b].Count ? answers[b][i] : eosId;
                keyMask.AsSpan(b * length + offset, length - offset).Fill(1);
            }
            _model.Logits(tokens, batch, length, [length - 1], logits, keyMask);
            for (int b = 0; b < batch; b++)
            {
                if (done[b]) continue;
                int next = TokenChoice.Argmax(logits.AsSpan(b * v, v));
                answers[b].Add(next);
                done[b] = next == eosId;
            }
        }
        return [.. answers.Select(a => new AutoregressiveResult([.. a], a.Count))];
    }
}
