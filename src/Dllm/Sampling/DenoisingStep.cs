namespace Dllm.Sampling;

/// <summary>
/// What a sampler reports after each denoising step, for live views (chat, web page) and tests.
/// <see cref="Canvas"/> is a snapshot: prompt then answer, masked positions hold the mask id (empty
/// when the caller asked for no snapshots). Positions are in the caller's coordinates (batch padding
/// removed). <see cref="CommittedPositions"/> are best first, with their scores in
/// <see cref="CommittedScores"/>.
/// </summary>
public sealed record DenoisingStep(
    int Step,
    int Block,
    int StepInBlock,
    int PromptLength,
    int MaskId,
    int[] Canvas,
    int[] CommittedPositions,
    double[] CommittedScores)
{
    /// <summary>Index of the sequence in a batch (0 for a single prompt).</summary>
    public int Sequence { get; init; }

    /// <summary>Positions a ReMDM loop step remasked before this step's forward (empty otherwise).</summary>
    public int[] RemaskedPositions { get; init; } = [];

    /// <summary>Committed positions token editing rewrote at this step (<see cref="DecodingOptions.EditThreshold"/>).</summary>
    public int[] EditedPositions { get; init; } = [];

    /// <summary>True for a ReMDM loop step (it does not advance <see cref="StepInBlock"/>).</summary>
    public bool IsRemaskStep => RemaskedPositions.Length > 0;
}

/// <summary>The finished canvas and what it cost.</summary>
/// <param name="Canvas">Prompt (or given tokens) then answer.</param>
/// <param name="PromptLength">Length of the prompt part.</param>
/// <param name="ForwardPasses">Model calls this sequence took part in (full, refresh or window).</param>
public sealed record GenerationResult(int[] Canvas, int PromptLength, int ForwardPasses)
{
    /// <summary>The answer part of the canvas (EOS padding included; strip with GeneratedText).</summary>
    public ReadOnlySpan<int> Answer => Canvas.AsSpan(PromptLength);

    /// <summary>Network function evaluations: forward passes, counting a guided pass's conditional and
    /// unconditional halves separately (2 per pass with CFG). A window pass counts as one.</summary>
    public int Nfe { get; init; }

    /// <summary>How many of <see cref="ForwardPasses"/> were cached window passes (LogitsInWindow).</summary>
    public int WindowForwards { get; init; }

    /// <summary>Denoising steps taken (schedule steps plus ReMDM loop steps).</summary>
    public int Steps { get; init; }

    /// <summary>True when early stop ended decoding before the schedule did.</summary>
    public bool StoppedEarly { get; init; }
}
