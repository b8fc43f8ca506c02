using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>
/// The autoregressive twin of <see cref="SftObjective"/>: the same prompt/answer pairs, padded the same
/// way by <see cref="SftObjective.Pad"/>, trained with next-token cross-entropy under the causal
/// pattern on the answer tokens only (the prompt is context, never a target):
/// <code>   loss = Σ_b Σ_{i ∈ answer_b} −log p(x_{b,i} | x_{b,&lt;i})  /  Σ_b |answer_b|   </code>
/// (the mean over answer tokens). Position i−1 predicts token i, so the first answer token is
/// predicted from the last prompt token. EOS padding after the answer is not trained on: an AR model
/// stops at its first EOS and never sees what follows.
/// </summary>
public static class AutoregressiveSftObjective
{
    /// <summary>Builds the batch from a padded batch (tokens [B × L], prompt lengths from
    /// <see cref="SftObjective.Pad"/>) and each example's answer length.</summary>
    /// <exception cref="ArgumentException">Sizes disagree, a prompt is empty (the first answer token would
    /// have no context: start prompts with BOS), or prompt + answer is longer than L.</exception>
    public static TrainingBatch Build(ReadOnlySpan<int> padded, int batch, int length, ReadOnlySpan<int> promptLengths, ReadOnlySpan<int> answerLengths)
    {
        if (padded.Length != batch * length || promptLengths.Length != batch || answerLengths.Length != batch)
            throw new ArgumentException("padded, promptLengths or answerLengths do not match batch x length");
        int total = 0;
        for (int b = 0; b < batch; b++)
        {
            if (promptLengths[b] < 1) throw new ArgumentException($"example {b} has an empty prompt; AR SFT needs at least one context token (BOS)");
            if (answerLengths[b] < 0 || promptLengths[b] + answerLengths[b] > length)
                throw new ArgumentException($"example {b}: prompt {promptLengths[b]} + answer {answerLengths[b]} does not fit in {length}");
            total += answerLengths[b];
        }
        var rows = new int[total]; var targets = new int[total]; var weights = new float[total];
        float w = total == 0 ? 0f : 1f / total;
        for (int b = 0, c = 0; b < batch; b++)
            for (int i = promptLengths[b]; i < promptLengths[b] + answerLengths[b]; i++, c++)
            {
                rows[c] = b * length + i - 1;
                targets[c] = padded[b * length + i];
                weights[c] = w;
            }
        return new TrainingBatch(padded.ToArray(), batch, length, rows, targets, weights, AttentionPattern.Causal);
    }
}
