using System.Numerics.Tensors;

namespace Dllm.Sampling;

/// <summary>
/// Picks the token x0 for one position from its logits. Temperature 0 is argmax. Otherwise the
/// reference's Gumbel-max trick in float64: argmax exp(l)/(−ln U)^T, U ~ U(0,1), which samples from
/// softmax(l/T). We evaluate it in log space, argmax l − T·ln(−ln U), the same argmax without the
/// overflow of exp(l) for large logits.
/// </summary>
public static class TokenChoice
{
    /// <summary>Index of the largest logit; the first one on ties (as torch.argmax on CPU).</summary>
    public static int Argmax(ReadOnlySpan<float> logits) => TensorPrimitives.IndexOfMax(logits);

    /// <summary>Gumbel-max sample at temperature T &gt; 0, float64 noise drawn from <paramref name="rng"/>.</summary>
    public static int Sample(ReadOnlySpan<float> logits, double temperature, Random rng)
    {
        if (temperature == 0) return Argmax(logits);
        int best = 0;
        double bestScore = double.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
        {
            double u = rng.NextDouble();
            if (u == 0) u = double.Epsilon; // NextDouble is in [0,1): keep ln(−ln U) finite
            double score = logits[i] - temperature * Math.Log(-Math.Log(u));
            if (score > bestScore) { bestScore = score; best = i; }
        }
        return best;
    }

    /// <summary>softmax(logits)[token] computed in float64 (the low-confidence score).</summary>
    public static double Probability(ReadOnlySpan<float> logits, int token)
    {
        float max = TensorPrimitives.Max(logits);
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - (double)max);
        return Math.Exp(logits[token] - (double)max) / sum;
    }
}
