using Dllm.Model;

namespace Dllm.Sampling;

/// <summary>
/// LLaDA's reference sampler (generate.py; paper §2.4 and Appendix B.3): the answer starts fully
/// masked and is unmasked block by block (semi-autoregressive when BlockLength &lt; GenLength).
/// Each step runs the model on the whole canvas, predicts x0 at every masked position, scores it
/// (its ordering: low confidence = its probability, or random), and commits the top-k scored positions, k from
/// <see cref="TransferSchedule"/>; the rest stay masked. Positions past the current block are never
/// committed. Ties in the score go to the lower position.
/// Only masked positions before the block's end can be committed, so only their logits are asked for.
/// </summary>
/// <remarks>
/// A fixed configuration of <see cref="DiffusionSampler"/>: <see cref="SchedulePolicy.Reference"/>,
/// the ordering of <see cref="GenerationOptions.Ordering"/>, no cache, no early stop, no ReMDM loop.
/// Random draws (temperature &gt; 0, random remasking) come from one <see cref="Random"/>(Seed):
/// per step, per candidate in position order, the token's Gumbel draws then the random score.
/// </remarks>
public sealed class ReferenceSampler
{
    private readonly DiffusionSampler _sampler;

    public ReferenceSampler(IDenoisingModel model, int maskId) => _sampler = new DiffusionSampler(model, maskId);

    public GenerationResult Generate(IReadOnlyList<int> prompt, GenerationOptions options,
        Action<DenoisingStep>? onStep = null, CancellationToken cancellationToken = default)
        => _sampler.Generate(prompt, DecodingOptions.Reference(options), onStep, cancellationToken);
}
