namespace Dllm.Sampling;

/// <summary>
/// The built-in orderings (<see cref="IOrdering.For"/>): which masked positions to commit first.
/// LowConfidence and Random are LLaDA generate.py's; the other two come from Dream.
/// </summary>
public enum OrderingRule
{
    /// <summary>Commit the masked positions whose predicted token has the highest probability (<see cref="LowConfidenceOrdering"/>).</summary>
    LowConfidence,
    /// <summary>Commit uniformly random masked positions (<see cref="RandomOrdering"/>).</summary>
    Random,
    /// <summary>Commit the positions with the largest top1 − top2 probability gap (<see cref="TopKMarginOrdering"/>).</summary>
    TopKMargin,
    /// <summary>Commit the positions whose predicted distribution has the lowest entropy (<see cref="EntropyOrdering"/>).</summary>
    Entropy,
}
