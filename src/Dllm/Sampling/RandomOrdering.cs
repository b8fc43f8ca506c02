namespace Dllm.Sampling;

/// <summary>
/// LLaDA's <c>random</c> ordering (Dream's <c>origin</c>): the score is one uniform draw in [0, 1)
/// from the sequence's generator, so the committed positions are a uniformly random subset.
/// </summary>
/// <remarks>Exactly one <see cref="Random.NextDouble"/> per scored position, drawn after that position's
/// token; the logits are not read.</remarks>
public sealed class RandomOrdering : IOrdering
{
    public static readonly RandomOrdering Instance = new();
    public string Name => "random";
    public bool IsProbability => true;
    public double Score(ReadOnlySpan<float> logits, int token, Random rng) => rng.NextDouble();
}
