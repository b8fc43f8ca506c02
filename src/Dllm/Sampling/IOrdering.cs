namespace Dllm.Sampling;

/// <summary>
/// An ordering: which masked positions to commit first. It scores the token the sampler predicted at
/// each candidate position, "higher = commit sooner"; the commit policy (<see cref="ICommitPolicy"/>)
/// then says how many of the best-scored positions to take. The families compared in the literature:
/// MaskGIT-style confidence (Chang et al. 2022, LLaDA's <c>low_confidence</c>), uniformly random order
/// (LLaDA's <c>random</c>, Dream's <c>origin</c>), top-k margin (Kim et al. 2025, Dream's
/// <c>topk_margin</c>) and negative entropy (Dream's <c>entropy</c>, Ye et al. 2025).
/// </summary>
/// <remarks>
/// Scores are computed from the logits row the model produced for the position (after
/// classifier-free guidance, before any Gumbel noise), in float64. Dream computes its scores from
/// softmax(logits / temperature); LLaDA from softmax(logits): we follow LLaDA, so at temperature 0
/// the two agree. An ordering may draw from the generator it is given (random order does); the sampler
/// calls <see cref="Score"/> right after drawing the position's token, position by position, which
/// is the reference sampler's order of random draws.
/// </remarks>
public interface IOrdering
{
    /// <summary>The name of the built-in rule (low_confidence, random, topk_margin, entropy), as the <c>remasking</c> knob spells it.</summary>
    string Name { get; }

    /// <summary>True when scores are probabilities in [0, 1], so a confidence threshold is meaningful.</summary>
    bool IsProbability { get; }

    /// <summary>Score of committing <paramref name="token"/> at a position whose logits are <paramref name="logits"/>.</summary>
    double Score(ReadOnlySpan<float> logits, int token, Random rng);

    /// <summary>The ordering of a built-in rule.</summary>
    /// <exception cref="ArgumentException">A value that is not an <see cref="OrderingRule"/>.</exception>
    static IOrdering For(OrderingRule rule) => rule switch
    {
        OrderingRule.LowConfidence => LowConfidenceOrdering.Instance,
        OrderingRule.Random => RandomOrdering.Instance,
        OrderingRule.TopKMargin => TopKMarginOrdering.Instance,
        OrderingRule.Entropy => EntropyOrdering.Instance,
        _ => throw new ArgumentException($"unknown ordering rule '{rule}'"),
    };
}
