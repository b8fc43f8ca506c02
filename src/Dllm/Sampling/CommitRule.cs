namespace Dllm.Sampling;

/// <summary>Which commit policy decides how many positions a step unmasks (<see cref="DecodingOptions.CreatePolicy"/>).</summary>
public enum CommitRule
{
    /// <summary>generate.py's fixed per-block schedule (<see cref="SchedulePolicy"/>).</summary>
    Schedule,
    /// <summary>Fast-dLLM confidence threshold (<see cref="ThresholdPolicy"/>).</summary>
    Threshold,
    /// <summary>Fast-dLLM factor rule (<see cref="FactorPolicy"/>).</summary>
    Factor,
    /// <summary>Dream's linear-time schedule (<see cref="DreamSchedulePolicy"/>).</summary>
    Dream,
    /// <summary>The block diffusion models' threshold with a schedule floor (<see cref="DynamicThresholdPolicy"/>:
    /// SDAR's low_confidence_dynamic, LLaDA2's threshold decoding).</summary>
    Dynamic,
}
