namespace Dllm.Sampling;

/// <summary>
/// generate.py's fixed schedule (LLaDA, Nie et al. 2025, Appendix B.3): each block runs exactly
/// StepsPerBlock steps and step s commits <see cref="TransferSchedule.CountAt"/>(N, S, s) of the
/// best-scored candidates, N = masked positions at the block's start. The counts sum to N, so the block
/// ends unmasked; when N &lt; S the late steps commit nothing but still run the model (as the reference).
/// </summary>
/// <remarks>
/// With <see cref="AlgTemp"/> &gt; 0 the positions are drawn from softmax(score/AlgTemp) instead of
/// taken top-k (Dream's alg_temp). If fewer candidates than the count remain, all are committed.
/// </remarks>
public sealed class SchedulePolicy(double algTemp = 0) : ICommitPolicy
{
    /// <summary>The reference configuration: top-k, no position temperature.</summary>
    public static readonly SchedulePolicy Reference = new();

    /// <summary>Position temperature (Dream's alg_temp); 0 = deterministic top-k.</summary>
    public double AlgTemp { get; } = algTemp >= 0 ? algTemp : throw new ArgumentOutOfRangeException(nameof(algTemp), algTemp, "alg-temp must be ≥ 0");

    public string Name => "schedule";
    public bool NeedsProbabilityScores => false;

    public bool ContinueBlock(in BlockProgress progress) => progress.StepInBlock < progress.StepsPerBlock;

    public int[] Select(ReadOnlySpan<double> scores, in BlockProgress progress, Random rng)
    {
        int k = TransferSchedule.CountAt(progress.MaskedAtBlockStart, progress.StepsPerBlock, progress.StepInBlock);
        return Selection.SampleWithoutReplacement(scores, Math.Min(k, scores.Length), AlgTemp, rng);
    }
}
