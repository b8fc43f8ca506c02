namespace Dllm.Sampling;

/// <summary>
/// An ordering rule: how sure the sampler is of the token it predicted at one masked position.
/// Commit policies commit the highest-scored positions first, so a score is "higher = commit
/// sooner". The families compared in the literature: MaskGIT-style confidence (Chang et al. 2022,
/// LLaDA's <c>low_confidence</c>), uniformly random order (LLaDA's <c>random</c>, Dream's
/// <c>origin</c>), top-k margin (Kim et al. 2025, Dream's <c>topk_margin</c>) and negative entropy
/// (Dream's <c>entropy</c>, Ye et al. 2025).
/// </summary>
/// <remarks>
/// Scores are computed from the logits row the model produced for the position (after
/// classifier-free guidance, before any Gumbel noise), in float64. Dream computes its scores from
/// softmax(logits / temperature); LLaDA from softmax(logits): we follow LLaDA, so at temperature 0
/// the two agree. A score may draw from the generator it is given (random order does); the sampler
/// calls <see cref="Score"/> right after drawing the position's token, position by position, which
/// is the reference sampler's order of random draws.
/// </remarks>
public interface IConfidenceScore
{
    /// <summary>Short name as the CLI spells it (low_confidence, random, topk_margin, entropy).</summary>
    string Name { get; }

    /// <summary>True when scores are probabilities in [0, 1], so a confidence threshold is meaningful.</summary>
    bool IsProbability { get; }

    /// <summary>Score of committing <paramref name="token"/> at a position whose logits are <paramref name="logits"/>.</summary>
    double Score(ReadOnlySpan<float> logits, int token, Random rng);
}

/// <summary>Maps the <see cref="RemaskingKind"/> knob to its <see cref="IConfidenceScore"/>.</summary>
public static class ConfidenceScores
{
    /// <summary>The rule for a remasking kind.</summary>
    /// <exception cref="ArgumentException">Unknown kind.</exception>
    public static IConfidenceScore For(RemaskingKind kind) => kind switch
    {
        RemaskingKind.LowConfidence => LowConfidenceRemasking.Instance,
        RemaskingKind.Random => RandomRemasking.Instance,
        RemaskingKind.TopKMargin => MarginConfidence.Instance,
        RemaskingKind.Entropy => EntropyConfidence.Instance,
        _ => throw new ArgumentException($"unknown remasking '{kind}'"),
    };
}
