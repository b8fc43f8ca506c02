namespace Dllm.Sampling;

/// <summary>
/// Picking positions from their scores: deterministic top-k (torch.topk as the references use it)
/// and Dream's stochastic alternative (alg_temp &gt; 0: draw positions from softmax(score/alg_temp)
/// without replacement, torch.multinomial's semantics).
/// </summary>
public static class Selection
{
    /// <summary>
    /// Indices of the <paramref name="k"/> largest scores, best first. Equal scores keep the lower
    /// index first (candidates are in position order, so ties go to the leftmost position).
    /// </summary>
    /// <remarks>NaN sorts below every number. k is clamped to [0, scores.Length].</remarks>
    public static int[] TopK(ReadOnlySpan<double> scores, int k)
    {
        double[] score = scores.ToArray();
        var idx = new int[score.Length];
        for (int i = 0; i < idx.Length; i++) idx[i] = i;
        // A total order (score descending, then index ascending): the unstable sort is still deterministic.
        Array.Sort(idx, (a, b) => score[b] != score[a] ? score[b].CompareTo(score[a]) : a.CompareTo(b));
        return idx[..Math.Clamp(k, 0, idx.Length)];
    }

    /// <summary>
    /// <paramref name="k"/> distinct indices drawn one after another from softmax(scores / temperature)
    /// over the indices not yet drawn (sampling without replacement). Temperature 0 is <see cref="TopK"/>.
    /// </summary>
    /// <remarks>
    /// One <see cref="Random.NextDouble"/> per draw. −∞ scores have probability 0 and are drawn only
    /// once every finite one is taken (then lowest index first), so k may exceed the finite count.
    /// </remarks>
    public static int[] SampleWithoutReplacement(ReadOnlySpan<double> scores, int k, double temperature, Random rng)
    {
        if (temperature == 0) return TopK(scores, k);
        k = Math.Clamp(k, 0, scores.Length);
        var taken = new bool[scores.Length];
        var result = new int[k];
        var weight = new double[scores.Length];
        for (int j = 0; j < k; j++)
        {
            double max = double.NegativeInfinity;
            for (int i = 0; i < scores.Length; i++) if (!taken[i] && scores[i] > max) max = scores[i];
            int pick = -1;
            if (double.IsNegativeInfinity(max))
            {
                for (int i = 0; i < scores.Length && pick < 0; i++) if (!taken[i]) pick = i;
            }
            else
            {
                double sum = 0;
                for (int i = 0; i < scores.Length; i++)
                    sum += weight[i] = taken[i] ? 0 : Math.Exp((scores[i] - max) / temperature);
                double u = rng.NextDouble() * sum, acc = 0;
                for (int i = 0; i < scores.Length; i++)
                {
                    if (weight[i] == 0) continue;
                    acc += weight[i];
                    pick = i;
                    if (u < acc) break;
                }
            }
            taken[pick] = true;
            result[j] = pick;
        }
        return result;
    }
}
