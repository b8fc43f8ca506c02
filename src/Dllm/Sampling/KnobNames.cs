namespace Dllm.Sampling;

/// <summary>A knob's canonical name inside a <see cref="DecodingOptionException"/> message, spelled by whoever reports it.</summary>
internal readonly record struct KnobName(string Name)
{
    public override string ToString() => Name;
}

/// <summary>
/// The canonical, snake_case name of every <see cref="DecodingOptions"/> property: the name of the knob that
/// sets it (LLaDA generate.py's spelling where it has one; <c>remasking</c> sets <see cref="DecodingOptions.Ordering"/>),
/// and the name validation errors carry. <c>dream_eps</c>, <c>eos_id</c>, <c>infill_block_length</c>,
/// <c>remdm_steps</c> and <c>remdm_start</c> have no knob (code sets them); their errors name them the same way.
/// </summary>
internal static class KnobNames
{
    public static readonly KnobName GenLength = new("gen_length");
    public static readonly KnobName MaxTokens = new("max_tokens");
    public static readonly KnobName Steps = new("steps");
    public static readonly KnobName BlockLength = new("block_length");
    public static readonly KnobName Temperature = new("temperature");
    public static readonly KnobName CfgScale = new("cfg_scale");
    public static readonly KnobName Remasking = new("remasking");
    public static readonly KnobName Commit = new("commit");
    public static readonly KnobName Threshold = new("threshold");
    public static readonly KnobName Factor = new("factor");
    public static readonly KnobName AlgTemp = new("alg_temp");
    public static readonly KnobName DreamEps = new("dream_eps");
    public static readonly KnobName Cache = new("cache");
    public static readonly KnobName RefreshInterval = new("refresh_interval");
    public static readonly KnobName ReusePrefix = new("reuse_prefix");
    public static readonly KnobName EarlyStop = new("early_stop");
    public static readonly KnobName EosId = new("eos_id");
    public static readonly KnobName Remdm = new("remdm");
    public static readonly KnobName RemdmSteps = new("remdm_steps");
    public static readonly KnobName RemdmStart = new("remdm_start");
    public static readonly KnobName Seed = new("seed");
    public static readonly KnobName InfillBlockLength = new("infill_block_length");
    public static readonly KnobName SubBlockLength = new("sub_block_length");
    public static readonly KnobName EditThreshold = new("edit_threshold");
    public static readonly KnobName MaxPostEditSteps = new("max_post_edit_steps");
}
