namespace Dllm.Sampling;

/// <summary>
/// ReMDM-style remasking of committed tokens (Wang et al. 2025, "Remasking Discrete Diffusion Models
/// with Inference-Time Scaling", arXiv 2503.00307), in the "loop" form its LLaDA port uses
/// (guanghanwang/ReMDM-LLaDA <c>llada_remdm_sample</c>). Masked diffusion never revisits a committed
/// token; the loop lets the model correct itself late in each block:
/// <list type="number">
/// <item>Every token the sampler commits records its score at commit time.</item>
/// <item>Once a fraction ≥ <see cref="StartFraction"/> of the block's initially masked positions is
/// committed, the block's schedule pauses for <see cref="LoopSteps"/> loop steps.</item>
/// <item>Each loop step remasks the <see cref="Count"/> committed positions of the current block with
/// the lowest recorded scores (fewer if fewer are committed), runs the model, and commits exactly as
/// many of the masked candidates as it remasked (top-k by score), recording their new scores.</item>
/// <item>Then the block's own schedule resumes where it paused.</item>
/// </list>
/// Invariants: the masked count is the same before and after each loop step; only tokens the sampler
/// itself committed in the current block are ever remasked (never prompt, pinned, given or
/// earlier-block tokens); the loop runs at most once per block.
/// </summary>
/// <remarks>
/// The paper's "cap" and "rescale" variants set a per-step remasking probability σ_t in continuous
/// time; we implement only the loop (the one with a reference for LLaDA). Tie order among equal
/// recorded scores: the lower position is remasked first. If the block finishes before the fraction is
/// checked (e.g. one threshold step unmasks it all), the loop runs right after, before the next block.
/// Early stop (<see cref="DecodingOptions.EarlyStop"/>) takes precedence over a pending loop.
/// </remarks>
public sealed record RemdmLoop
{
    /// <summary>Tokens remasked (and recommitted) per loop step (<c>remdm</c>); ReMDM-LLaDA's remdm_number. ≥ 1.</summary>
    public int Count { get; init; } = 1;

    /// <summary>Loop steps per block (<c>remdm_steps</c>, no knob). ≥ 1.</summary>
    public int LoopSteps { get; init; } = 8;

    /// <summary>Committed fraction of the block at which the loop starts (<c>remdm_start</c>, no knob), in [0, 1] (ReMDM-LLaDA: 7/8).</summary>
    public double StartFraction { get; init; } = 0.875;

    /// <summary>Checks the loop's values (<see cref="DecodingOptions.Validate"/> calls it).</summary>
    /// <exception cref="DecodingOptionException">A value out of range; it names the value's knob.</exception>
    public void Validate()
    {
        if (Count < 1) throw new DecodingOptionException(KnobNames.Remdm, $"{KnobNames.Remdm} (tokens remasked per loop step) must be ≥ 1, got {Count}");
        if (LoopSteps < 1) throw new DecodingOptionException(KnobNames.RemdmSteps, $"{KnobNames.RemdmSteps} must be ≥ 1, got {LoopSteps}");
        if (!(StartFraction >= 0 && StartFraction <= 1))
            throw new DecodingOptionException(KnobNames.RemdmStart, $"{KnobNames.RemdmStart} must be in [0, 1], got {StartFraction}");
    }

    /// <summary>
    /// The positions to remask: among <paramref name="committed"/> (positions the sampler committed in
    /// this block), the <see cref="Count"/> with the lowest <paramref name="recordedScore"/>, lowest first.
    /// </summary>
    public int[] PickRemask(IReadOnlyList<int> committed, Func<int, double> recordedScore)
    {
        var scores = new double[committed.Count];
        for (int i = 0; i < scores.Length; i++) scores[i] = -recordedScore(committed[i]);
        int[] order = Selection.TopK(scores, Math.Min(Count, scores.Length));
        var result = new int[order.Length];
        for (int i = 0; i < order.Length; i++) result[i] = committed[order[i]];
        return result;
    }
}
