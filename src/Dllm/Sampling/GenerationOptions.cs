namespace Dllm.Sampling;

/// <summary>
/// The knobs of LLaDA's reference generate() (ML-GSAI/LLaDA generate.py), with its defaults.
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Answer length in tokens (the masked canvas appended to the prompt).</summary>
    public int GenLength { get; init; } = 128;
    /// <summary>Total denoising steps, split evenly over the blocks.</summary>
    public int Steps { get; init; } = 128;
    /// <summary>Semi-autoregressive block size; equal to GenLength means one block (pure diffusion).</summary>
    public int BlockLength { get; init; } = 128;
    /// <summary>Gumbel-max temperature; 0 is greedy argmax.</summary>
    public double Temperature { get; init; }
    /// <summary>Classifier-free guidance scale; 0 disables (one forward per step instead of two).</summary>
    public double CfgScale { get; init; }
    /// <summary>Which masked positions to commit first (generate.py's <c>remasking</c>).</summary>
    public OrderingRule Ordering { get; init; } = OrderingRule.LowConfidence;
    /// <summary>Seed for the Gumbel noise and the random ordering.</summary>
    public int Seed { get; init; }

    /// <summary>Blocks the answer is split into.</summary>
    public int NumBlocks => GenLength / BlockLength;

    /// <summary>Denoising steps spent on each block.</summary>
    public int StepsPerBlock => Steps / NumBlocks;

    /// <summary>Checks the constraints generate.py asserts, with messages that name the flag.</summary>
    /// <exception cref="ArgumentException">A knob is out of range or the lengths do not divide.</exception>
    public void Validate()
    {
        if (GenLength <= 0) throw new ArgumentException($"gen-length must be positive, got {GenLength}");
        if (Steps <= 0) throw new ArgumentException($"steps must be positive, got {Steps}");
        if (BlockLength <= 0) throw new ArgumentException($"block-length must be positive, got {BlockLength}");
        if (GenLength % BlockLength != 0)
            throw new ArgumentException($"gen-length ({GenLength}) must be a multiple of block-length ({BlockLength})");
        if (Steps % NumBlocks != 0)
            throw new ArgumentException($"steps ({Steps}) must be a multiple of the number of blocks ({NumBlocks} = gen-length / block-length)");
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
            throw new ArgumentException($"temperature must be a finite number ≥ 0, got {Temperature}");
        if (!(CfgScale >= 0) || double.IsInfinity(CfgScale))
            throw new ArgumentException($"cfg-scale must be a finite number ≥ 0, got {CfgScale}");
        if (!Enum.IsDefined(Ordering)) throw new ArgumentException($"unknown remasking '{Ordering}'");
    }
}
