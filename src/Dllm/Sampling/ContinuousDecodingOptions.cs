namespace Dllm.Sampling;

/// <summary>
/// How the continuous families (Diffusion-LM, DiffuSeq, SSD-LM) are sampled. Their own type, not
/// <see cref="DecodingOptions"/>: none of the masked sampler's knobs (ordering, commit rule, remasking,
/// guidance) means anything for a Gaussian reverse process, and these have no masked counterpart.
/// </summary>
public sealed record ContinuousDecodingOptions
{
    /// <summary>Tokens to generate after the prompt (SSD-LM: rounded up to whole blocks, then cut back).</summary>
    public int AnswerLength { get; init; } = 32;

    /// <summary>Reverse steps per canvas (SSD-LM: per block), spread evenly over the T training timesteps
    /// (<see cref="Training.NoiseSchedule.Respaced"/>); at most T are used.</summary>
    public int Steps { get; init; } = 200;

    /// <summary>SSD-LM's semi-autoregressive block length; null = the ssd_block_size it was trained with.</summary>
    public int? BlockSize { get; init; }

    /// <summary>Diffusion-LM/DiffuSeq: map each x̂₀ to its nearest word embedding before the next step
    /// (the clamping trick, Diffusion-LM §4.2). Off, the reverse process runs on the raw prediction.</summary>
    public bool Clamp { get; init; } = true;

    /// <summary>Seed of the Gaussian draws (x_T and each step's noise).</summary>
    public int Seed { get; init; }

    /// <summary>Called after every reverse step (the live view).</summary>
    public Action<ContinuousStep>? OnStep { get; init; }

    /// <summary>Checks the values; throws <see cref="DecodingOptionException"/> naming the knob.</summary>
    public void Validate()
    {
        if (AnswerLength < 1) throw new DecodingOptionException(KnobNames.GenLength, $"{KnobNames.GenLength} must be at least 1, got {AnswerLength}");
        if (Steps < 1) throw new DecodingOptionException(KnobNames.Steps, $"{KnobNames.Steps} must be at least 1, got {Steps}");
        if (BlockSize is < 1) throw new DecodingOptionException(KnobNames.BlockLength, $"{KnobNames.BlockLength} must be at least 1, got {BlockSize}");
    }
}

/// <summary>
/// One reverse step of a continuous sampler.
/// </summary>
/// <param name="Step">1-based step within the canvas (SSD-LM: within the block).</param>
/// <param name="Steps">Steps per canvas (per block).</param>
/// <param name="Block">0-based block (always 0 for Diffusion-LM/DiffuSeq).</param>
/// <param name="Answer">The answer as it reads now: every generated token so far, the current canvas rounded to words.</param>
/// <param name="State">Diffusion-LM/DiffuSeq: x after the step, the whole canvas [L × d] (prompt rows included);
/// SSD-LM: empty. A snapshot, the caller may keep it.</param>
/// <param name="Prediction">Diffusion-LM/DiffuSeq: the answer rows' x̂₀ after clamping [A × d]; SSD-LM: empty.</param>
public sealed record ContinuousStep(int Step, int Steps, int Block, int[] Answer, float[] State, float[] Prediction);

/// <summary>A continuous sampler's answer (before any EOS trimming) and its forward-pass count.</summary>
public sealed record ContinuousResult(int[] Answer, int ForwardPasses);
