namespace Dllm.Sampling;

/// <summary>
/// LLaDA's <c>low_confidence</c> ordering (MaskGIT confidence; Dream's <c>maskgit_plus</c>): the score is
/// softmax(logits)[token], the model's probability of the token it predicted. The least confident
/// predictions stay masked, hence LLaDA's name.
/// </summary>
/// <remarks>Computed in float64 exactly as <see cref="TokenChoice.Probability"/>; with temperature &gt; 0
/// it is the probability of the sampled token, not of the argmax.</remarks>
public sealed class LowConfidenceOrdering : IOrdering
{
    public static readonly LowConfidenceOrdering Instance = new();
    public string Name => "low_confidence";
    public bool IsProbability => true;
    public double Score(ReadOnlySpan<float> logits, int token, Random rng) => TokenChoice.Probability(logits, token);
}
