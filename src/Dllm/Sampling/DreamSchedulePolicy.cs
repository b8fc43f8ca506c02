namespace Dllm.Sampling;

/// <summary>
/// Dream 7B's unmasking schedule (Ye et al. 2025; HKUNLP/Dream generation_utils.py <c>_sample</c>, and
/// Fast-dLLM's block version): times t run linearly from 1 to eps over S steps,
/// t_i = linspace(1, eps, S + 1)[i]; at step i &lt; S − 1 commit ⌊M·(1 − t_{i+1}/t_i)⌋ of the M positions
/// still masked in the block, and at the last step all M. The expected-count rule of the masked
/// diffusion reverse process: a token masked at time t stays masked at s &lt; t with probability s/t.
/// </summary>
/// <remarks>
/// Counts are computed in float32 with torch's CPU linspace formula (the first half from the start,
/// the second half back from the end), so they agree with Dream's integer counts. Early steps commit
/// few tokens (often 0 when M is small: 1 − t_{i+1}/t_i is about 1/(S − i)), the last commits the
/// rest. With <see cref="AlgTemp"/> &gt; 0 the positions are drawn from softmax(score/AlgTemp) without
/// replacement (Dream's alg_temp) instead of the top-k.
/// </remarks>
public sealed class DreamSchedulePolicy : ICommitPolicy
{
    /// <summary>Final time eps in (0, 1) (Dream's default 1e-3).</summary>
    public double Eps { get; }

    /// <summary>Position temperature (alg_temp); 0 = top-k.</summary>
    public double AlgTemp { get; }

    public DreamSchedulePolicy(double eps = 1e-3, double algTemp = 0)
    {
        if (!(eps > 0 && eps < 1)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "dream-eps must be in (0, 1)");
        if (!(algTemp >= 0) || double.IsInfinity(algTemp)) throw new ArgumentOutOfRangeException(nameof(algTemp), algTemp, "alg-temp must be a finite number ≥ 0");
        Eps = eps;
        AlgTemp = algTemp;
    }

    public string Name => "dream";
    public bool NeedsProbabilityScores => false;

    public bool ContinueBlock(in BlockProgress progress) => progress.StepInBlock < progress.StepsPerBlock;

    /// <summary>t_i of linspace(1, eps, steps + 1) in float32, as torch computes it on the CPU.</summary>
    public float Time(int i, int steps)
    {
        int n = steps + 1;
        float start = 1f, end = (float)Eps;
        float delta = (end - start) / (n - 1);
        return i < n / 2 ? start + delta * i : end - delta * (n - 1 - i);
    }

    /// <summary>Tokens to commit at step <paramref name="step"/> of <paramref name="steps"/> with <paramref name="masked"/> still masked.</summary>
    public int Count(int masked, int step, int steps)
    {
        if (step >= steps - 1) return masked;
        float t = Time(step, steps), s = Time(step + 1, steps);
        return (int)(masked * (1f - s / t));
    }

    public int[] Select(ReadOnlySpan<double> scores, in BlockProgress progress, Random rng)
    {
        int k = Math.Min(Count(progress.MaskedInBlock, progress.StepInBlock, progress.StepsPerBlock), scores.Length);
        return k <= 0 ? [] : Selection.SampleWithoutReplacement(scores, k, AlgTemp, rng);
    }
}
