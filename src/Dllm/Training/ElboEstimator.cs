using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>
/// Monte Carlo upper bound on −log p(answer | prompt) for a masked diffusion model
/// (arXiv 2502.09992 Eq. 6; reference get_log_likelihood.py). Per sample, l ∈ 1..L answer
/// positions are masked (the prompt never is), and
/// <code>   bound ≈ mean over samples of  (L / l) · Σ_masked −log p(x_i | x_masked)   </code>
/// The mask counts are stratified within each batch of <see cref="BatchSize"/> samples:
/// l_i = ((round(k + i·L/b) − 1) mod L) + 1 for one k ~ U{1..L}, i = 0..b−1; each sample masks a
/// uniformly random set of l_i answer positions. The result is in nats (divide by L for nats/token,
/// comparable with <see cref="AutoregressiveObjective.NegativeLogLikelihood"/>).
/// </summary>
public sealed class ElboEstimator
{
    public int MaskTokenId { get; }
    public int Samples { get; }
    public int BatchSize { get; }

    /// <exception cref="ArgumentException">samples is not a positive multiple of batchSize.</exception>
    public ElboEstimator(int maskTokenId, int samples = 128, int batchSize = 16)
    {
        if (batchSize <= 0 || samples <= 0 || samples % batchSize != 0)
            throw new ArgumentException($"samples ({samples}) must be a positive multiple of batch size ({batchSize})");
        MaskTokenId = maskTokenId; Samples = samples; BatchSize = batchSize;
    }

    /// <summary>The stratified mask counts of one batch (1 ≤ l ≤ answerLength).</summary>
    public static int[] MaskCounts(int answerLength, int batch, Random rng)
    {
        int k = rng.Next(1, answerLength + 1);
        var l = new int[batch];
        for (int i = 0; i < batch; i++)
        {
            long x = (long)Math.Round(k + i * ((double)answerLength / batch), MidpointRounding.ToEven);
            l[i] = (int)((x - 1) % answerLength) + 1;
        }
        return l;
    }

    /// <summary>Estimated −log p(answer | prompt) in nats (an upper bound in expectation).</summary>
    /// <exception cref="ArgumentException">The answer is empty.</exception>
    public double NegativeElbo(IDenoisingModel model, ReadOnlySpan<int> prompt, ReadOnlySpan<int> answer, Random rng)
    {
        int L = answer.Length, pl = prompt.Length, len = pl + L, v = model.VocabSize, b = BatchSize;
        if (L == 0) throw new ArgumentException("empty answer", nameof(answer));
        var clean = new int[len];
        prompt.CopyTo(clean); answer.CopyTo(clean.AsSpan(pl));
        int[] positions = Enumerable.Range(pl, L).ToArray();
        var tokens = new int[b * len];
        var masked = new bool[b * L];
        var logits = new float[b * L * v];
        var perm = new int[L];
        double total = 0;
        for (int done = 0; done < Samples; done += b)
        {
            int[] counts = MaskCounts(L, b, rng);
            for (int s = 0; s < b; s++)
            {
                clean.CopyTo(tokens.AsSpan(s * len));
                for (int i = 0; i < L; i++) perm[i] = i;
                rng.Shuffle(perm);
                masked.AsSpan(s * L, L).Clear();
                for (int i = 0; i < counts[s]; i++)
                {
                    masked[s * L + perm[i]] = true;
                    tokens[s * len + pl + perm[i]] = MaskTokenId;
                }
            }
            model.Logits(tokens, b, len, positions, logits);
            for (int s = 0; s < b; s++)
            {
                double ce = 0;
                for (int i = 0; i < L; i++)
                {
                    if (!masked[s * L + i]) continue;
                    ReadOnlySpan<float> z = logits.AsSpan((s * L + i) * v, v);
                    ce += Softmax.LogSumExp(z) - z[answer[i]];
                }
                total += ce * L / counts[s];
            }
        }
        return total / Samples;
    }
}
