namespace Dllm.Sampling;

/// <summary>Where a sequence stands in its current block when a commit policy is consulted.</summary>
/// <param name="StepInBlock">0-based step of the block's own schedule (ReMDM loop steps do not advance it).</param>
/// <param name="StepsPerBlock">The step budget of a block (total steps / blocks).</param>
/// <param name="MaskedAtBlockStart">Masked (unpinned) positions in the block when it began.</param>
/// <param name="MaskedInBlock">Masked (unpinned) positions in the block now, before this step commits.</param>
/// <param name="BlockLength">Positions the block spans, masked or not (a block diffusion model's first block holds the prompt's tail).</param>
public readonly record struct BlockProgress(int StepInBlock, int StepsPerBlock, int MaskedAtBlockStart, int MaskedInBlock, int BlockLength = 0);

/// <summary>
/// A commit policy (a.k.a. unmasking schedule): how many of the scored candidate positions to unmask at
/// a step and when a block is finished. The ordering (<see cref="IOrdering"/>) says which
/// positions are best; the policy says how many of them to take.
/// </summary>
/// <remarks>
/// Implementations are stateless: everything they need is in <see cref="BlockProgress"/>, so one
/// instance serves every sequence of a batch. A policy must commit at least one position per step
/// whenever it reports that the block continues only while masks remain (otherwise decoding would
/// not terminate); fixed-step policies may commit zero (generate.py does, when masks &lt; steps).
/// </remarks>
public interface ICommitPolicy
{
    /// <summary>Short name as the CLI spells it.</summary>
    string Name { get; }

    /// <summary>True when the policy compares scores with an absolute level (probability-scale scores required).</summary>
    bool NeedsProbabilityScores { get; }

    /// <summary>Whether the block takes another step (checked before each step).</summary>
    bool ContinueBlock(in BlockProgress progress);

    /// <summary>
    /// Indices into <paramref name="scores"/> to commit, best first. <paramref name="scores"/> holds one
    /// score per candidate (every masked, unpinned position up to the block's end), in position order.
    /// </summary>
    int[] Select(ReadOnlySpan<double> scores, in BlockProgress progress, Random rng);
}
