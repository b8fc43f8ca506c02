using Dllm.Sampling;

namespace Dllm.Tests.Sampling;

/// <summary>
/// LLaDA2.1's token editing (edit_threshold): committed tokens of the current block are rewritten when the model
/// prefers another with probability above τ, during unmasking and in edit-only steps after it, which stop when a
/// step changes nothing or after max_post_edit_steps.
/// </summary>
public class TokenEditingTests
{
    private const int Vocab = 8, Mask = 7;

    /// <summary>Prefers token 1 while any mask is left on the canvas, token 2 (with certainty) once none is.</summary>
    private static FakeModel ChangesItsMind() => new(Vocab, (view, pos, logits) =>
    {
        logits.Clear();
        logits[view.Contains(Mask) ? 1 : 2] = 20;
    });

    private static readonly DecodingOptions Options = new() { GenLength = 4, Steps = 4, Commit = CommitRule.Threshold, Threshold = 0.5 };

    [Fact]
    public void Without_editing_committed_tokens_are_final()
    {
        GenerationResult r = new DiffusionSampler(ChangesItsMind(), Mask).Generate([3, 4], Options);
        Assert.Equal([3, 4, 1, 1, 1, 1], r.Canvas);
    }

    [Fact]
    public void An_edit_only_step_rewrites_what_the_model_no_longer_prefers_and_the_next_one_ends_the_block()
    {
        var steps = new List<DenoisingStep>();
        GenerationResult r = new DiffusionSampler(ChangesItsMind(), Mask).Generate([3, 4], Options with { EditThreshold = 0.9 }, steps.Add);
        Assert.Equal([3, 4, 2, 2, 2, 2], r.Canvas);
        // One unmasking step (all four above τ), one edit step that rewrites them, one that changes nothing.
        Assert.Equal(3, r.ForwardPasses);
        Assert.Equal([2, 3, 4, 5], steps[1].EditedPositions);
        Assert.Empty(steps[2].EditedPositions);
    }

    [Fact]
    public void The_post_edit_budget_and_the_threshold_bound_editing()
    {
        Assert.Equal([3, 4, 1, 1, 1, 1], new DiffusionSampler(ChangesItsMind(), Mask).Generate([3, 4], Options with { EditThreshold = 0.9, MaxPostEditSteps = 0 }).Canvas);
        var unsure = new FakeModel(Vocab, (view, pos, logits) => { logits.Clear(); logits[view.Contains(Mask) ? 1 : 2] = 1; });
        Assert.Equal([3, 4, 1, 1, 1, 1], new DiffusionSampler(unsure, Mask).Generate([3, 4], Options with { EditThreshold = 0.9, Threshold = 0.1 }).Canvas);
        Assert.Equal("edit_threshold", Assert.Throws<DecodingOptionException>(() => (Options with { EditThreshold = 1.0 }).Validate()).Knob);
    }
}
