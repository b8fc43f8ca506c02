namespace Dllm.Sampling;

/// <summary>
/// LLaDA's <c>random</c> remasking (Dream's <c>origin</c> order): the score is one uniform draw in [0, 1)
/// from the sequence's generator, so the committed positions are a uniformly random subset.
/// </summary>
/// <remarks>Exactly one <see cref="Random.NextDouble"/> per scored position, drawn after that position's
/// token; the logits are not read.</remarks>
public sealed class RandomRemasking : IConfidenceScore
{
    public static readonly RandomRemasking Instance = new();
    public string Name => "random";
    public bool IsProbability => true;
    public double Score(ReadOnlySpan<float> logits, int token, Random rng) => rng.NextDouble();
}
