namespace Dllm.Sampling;

/// <summary>
/// The commit rule block diffusion models ship (JetAstra/SDAR generate.py <c>low_confidence_dynamic</c>;
/// inclusionAI LLaDA2 <c>generate</c> with <c>threshold</c>): step s of a block has a floor
/// k_s = <see cref="TransferSchedule.CountAt"/>(block length, steps per block, s) — the block's length, not
/// its masks, is spread over the steps, as both references do. If at least k_s candidates score above τ
/// (strictly), all of those are committed; otherwise the k_s best (fewer if fewer remain).
/// </summary>
/// <remarks>
/// The block continues while it has masked positions and steps left; since the floors sum to the block
/// length, every mask is committed by the last step. Scores must be probabilities.
/// </remarks>
public sealed class DynamicThresholdPolicy : ICommitPolicy
{
    /// <summary>The confidence level τ in (0, 1].</summary>
    public double Threshold { get; }

    public DynamicThresholdPolicy(double threshold)
    {
        if (!(threshold > 0 && threshold <= 1)) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "threshold must be in (0, 1]");
        Threshold = threshold;
    }

    public string Name => "dynamic";
    public bool NeedsProbabilityScores => true;

    public bool ContinueBlock(in BlockProgress progress) => progress.MaskedInBlock > 0 && progress.StepInBlock < progress.StepsPerBlock;

    public int[] Select(ReadOnlySpan<double> scores, in BlockProgress progress, Random rng)
    {
        if (scores.IsEmpty) return [];
        int floor = TransferSchedule.CountAt(progress.BlockLength > 0 ? progress.BlockLength : progress.MaskedAtBlockStart, progress.StepsPerBlock, progress.StepInBlock);
        int[] order = Selection.TopK(scores, scores.Length);
        int above = 0;
        while (above < order.Length && scores[order[above]] > Threshold) above++;
        return order[..(above >= floor ? above : Math.Min(floor, order.Length))];
    }
}
