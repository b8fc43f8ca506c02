using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>
/// LLaDA supervised fine-tuning loss (arXiv 2502.09992 Eq. 5; GUIDELINES.md): the prompt is never
/// masked; answers are padded with EOS to the batch length and the padding is trained on like any
/// answer token; per sequence p as in pre-training, and
/// <code>   loss = (1/B)·Σ_b Σ_masked CE / p_b / answer_length_b,   answer_length_b = L − prompt_length_b   </code>
/// </summary>
public sealed class SftObjective
{
    public int MaskTokenId { get; }
    public int EosTokenId { get; }
    public double Eps { get; }

    public SftObjective(int maskTokenId, int eosTokenId, double eps = 1e-3)
    {
        if (eps <= 0 || eps > 1) throw new ArgumentOutOfRangeException(nameof(eps), eps, "must lie in (0, 1]");
        MaskTokenId = maskTokenId; EosTokenId = eosTokenId; Eps = eps;
    }

    /// <summary>
    /// Concatenates prompt and answer per example and pads with EOS to the longest example
    /// (or to <paramref name="length"/> when given). Returns tokens [B × L], L and the prompt lengths.
    /// </summary>
    /// <exception cref="ArgumentException">An example is longer than <paramref name="length"/>.</exception>
    public (int[] Tokens, int Length, int[] PromptLengths) Pad(IReadOnlyList<(int[] Prompt, int[] Answer)> examples, int? length = null)
    {
        int len = length ?? examples.Max(e => e.Prompt.Length + e.Answer.Length);
        var tokens = new int[examples.Count * len];
        var promptLengths = new int[examples.Count];
        for (int b = 0; b < examples.Count; b++)
        {
            (int[] prompt, int[] answer) = examples[b];
            if (prompt.Length + answer.Length > len) throw new ArgumentException($"example {b} has {prompt.Length + answer.Length} tokens, more than {len}");
            Span<int> row = tokens.AsSpan(b * len, len);
            row.Fill(EosTokenId);
            prompt.CopyTo(row);
            answer.CopyTo(row[prompt.Length..]);
            promptLengths[b] = prompt.Length;
        }
        return (tokens, len, promptLengths);
    }

    /// <summary>
    /// Noises the answers of a padded batch. Draws per sequence: t, then one uniform per answer token.
    /// A sequence whose prompt fills the whole length contributes nothing.
    /// </summary>
    public TrainingBatch Sample(ReadOnlySpan<int> padded, int batch, int length, ReadOnlySpan<int> promptLengths, Random rng)
    {
        if (padded.Length != batch * length || promptLengths.Length != batch) throw new ArgumentException("padded or promptLengths do not match batch x length");
        int[] tokens = padded.ToArray();
        var rows = new List<int>(); var targets = new List<int>(); var weights = new List<float>();
        for (int b = 0; b < batch; b++)
        {
            int pl = promptLengths[b];
            if (pl < 0 || pl > length) throw new ArgumentOutOfRangeException(nameof(promptLengths), pl, $"prompt length outside [0, {length}]");
            double p = (1 - Eps) * rng.NextDouble() + Eps;
            int answerLength = length - pl;
            float w = (float)(1.0 / (p * answerLength * batch));
            for (int i = pl; i < length; i++)
            {
                if (rng.NextDouble() >= p) continue;
                int r = b * length + i;
                rows.Add(r); targets.Add(padded[r]); weights.Add(w);
                tokens[r] = MaskTokenId;
            }
        }
        return new TrainingBatch(tokens, batch, length, rows.ToArray(), targets.ToArray(), weights.ToArray(), AttentionPattern.Bidirectional);
    }
}
