using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>
/// The autoregressive baseline: next-token cross-entropy under the causal pattern,
/// <code>   loss = Σ_b Σ_{i &lt; L−1} −log p(x_{b,i+1} | x_{b,≤i})  /  (B·(L−1))   </code>
/// (the mean over predicted tokens). Inputs are never masked.
/// </summary>
public sealed class AutoregressiveObjective
{
    /// <summary>Builds the batch; <paramref name="rng"/> is unused (nothing is random), kept for a
    /// uniform objective signature. A length of 1 gives no targets (loss 0).</summary>
    public TrainingBatch Sample(ReadOnlySpan<int> tokens, int batch, int length, Random rng) => Build(tokens, batch, length);

    /// <inheritdoc cref="Sample"/>
    public static TrainingBatch Build(ReadOnlySpan<int> tokens, int batch, int length)
    {
        if (tokens.Length != batch * length) throw new ArgumentException($"tokens has {tokens.Length} ids, expected {batch}x{length}");
        int per = Math.Max(0, length - 1), n = batch * per;
        var rows = new int[n]; var targets = new int[n]; var weights = new float[n];
        float w = n == 0 ? 0f : 1f / n;
        for (int b = 0, c = 0; b < batch; b++)
            for (int i = 0; i < per; i++, c++)
            {
                rows[c] = b * length + i;
                targets[c] = tokens[b * length + i + 1];
                weights[c] = w;
            }
        return new TrainingBatch(tokens.ToArray(), batch, length, rows, targets, weights, AttentionPattern.Causal);
    }

    /// <summary>
    /// −log p(answer | prompt) in nats under an autoregressive model (sum over answer tokens; divide by the
    /// answer length for nats/token, exp of that is the perplexity).
    /// </summary>
    /// <exception cref="ArgumentException">The prompt is empty (the first answer token would have no
    /// context: start prompts with BOS) or the answer is empty.</exception>
    /// <exception cref="ArgumentException">The model is not autoregressive.</exception>
    public static double NegativeLogLikelihood(Transformer model, ReadOnlySpan<int> prompt, ReadOnlySpan<int> answer)
    {
        if (model.Config.Kind != ModelKind.Autoregressive)
            throw new ArgumentException($"the AR likelihood needs an autoregressive model, not a {model.Config.Kind} one", nameof(model));
        if (prompt.IsEmpty) throw new ArgumentException("the AR likelihood needs at least one prompt token (e.g. BOS)", nameof(prompt));
        if (answer.IsEmpty) throw new ArgumentException("empty answer", nameof(answer));
        int len = prompt.Length + answer.Length, v = model.VocabSize;
        var tokens = new int[len];
        prompt.CopyTo(tokens); answer.CopyTo(tokens.AsSpan(prompt.Length));
        int[] positions = Enumerable.Range(prompt.Length - 1, answer.Length).ToArray(); // position i predicts i+1
        var logits = new float[answer.Length * v];
        model.Logits(tokens, 1, len, positions, logits);
        double nll = 0;
        for (int i = 0; i < answer.Length; i++)
        {
            ReadOnlySpan<float> z = logits.AsSpan(i * v, v);
            nll += Softmax.LogSumExp(z) - z[answer[i]];
        }
        return nll;
    }
}
