namespace Dllm.Sampling;

/// <summary>
/// What a sampler reports after each denoising step, for live views (chat, web page) and tests.
/// <see cref="Canvas"/> is a snapshot: prompt then answer, masked positions hold the mask id.
/// </summary>
public sealed record DenoisingStep(
    int Step,
    int Block,
    int StepInBlock,
    int PromptLength,
    int MaskId,
    int[] Canvas,
    int[] CommittedPositions,
    double[] CommittedConfidences);

/// <summary>The finished canvas and what it cost.</summary>
public sealed record GenerationResult(int[] Canvas, int PromptLength, int ForwardPasses)
{
    /// <summary>The answer part of the canvas (EOS padding included; strip with GeneratedText).</summary>
    public ReadOnlySpan<int> Answer => Canvas.AsSpan(PromptLength);
}
