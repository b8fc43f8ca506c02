namespace Dllm.Sampling;

/// <summary>Which commit policy decides how many positions a step unmasks.</summary>
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
}

/// <summary>
/// Everything <see cref="DiffusionSampler"/> can be told: the reference knobs in
/// <see cref="Generation"/> (lengths, steps, temperature, CFG, ordering, seed) plus the decoding
/// strategies of the field. The defaults reproduce generate.py exactly, so
/// <c>new DecodingOptions { Generation = g }</c> behaves as <see cref="ReferenceSampler"/> with g.
/// </summary>
public sealed record DecodingOptions
{
    /// <summary>The reference knobs; their Ordering is used unless <see cref="CustomOrdering"/> is set.</summary>
    public GenerationOptions Generation { get; init; } = new();

    /// <summary>An ordering of the caller's; overrides <see cref="GenerationOptions.Ordering"/> when set.</summary>
    public IOrdering? CustomOrdering { get; init; }

    /// <summary>The commit policy.</summary>
    public CommitRule Commit { get; init; } = CommitRule.Schedule;

    /// <summary>τ for <see cref="CommitRule.Threshold"/>, in (0, 1]. Fast-dLLM's default 0.9.</summary>
    public double Threshold { get; init; } = 0.9;

    /// <summary>f for <see cref="CommitRule.Factor"/>, &gt; 0. Fast-dLLM's default 1.</summary>
    public double Factor { get; init; } = 1.0;

    /// <summary>Final time eps of <see cref="CommitRule.Dream"/>, in (0, 1).</summary>
    public double DreamEps { get; init; } = 1e-3;

    /// <summary>Dream's alg_temp: &gt; 0 draws positions from softmax(score/alg_temp) (Schedule and Dream rules only).</summary>
    public double AlgTemp { get; init; }

    /// <summary>ReMDM loop remasking of committed tokens; null (default) = off.</summary>
    public RemdmLoop? Remdm { get; init; }

    /// <summary>
    /// Stop a sequence as soon as its answer is final: an EOS is committed and every answer position
    /// before it is unmasked; the rest of the answer is then filled with EOS without further forwards.
    /// Needs <see cref="EosId"/>. Off by default (generate.py has no early stop).
    /// </summary>
    public bool EarlyStop { get; init; }

    /// <summary>End-of-sequence id for <see cref="EarlyStop"/> (LLaDA: 126081).</summary>
    public int? EosId { get; init; }

    /// <summary>KV-cache mode; anything but None needs an ICachingDenoisingModel.</summary>
    public CacheMode Cache { get; init; } = CacheMode.None;

    /// <summary>With a cache: also refresh once this many steps have passed since the last refresh; 0 = only at block starts.</summary>
    public int RefreshInterval { get; init; }

    /// <summary>
    /// For <see cref="DiffusionSampler.Fill"/>: split the span from the first mask to the end into blocks
    /// of this many positions, decoded left to right (semi-autoregressive infilling). Null = one block.
    /// </summary>
    public int? InfillBlockLength { get; init; }

    /// <summary>The reference configuration of <paramref name="generation"/>.</summary>
    public static DecodingOptions Reference(GenerationOptions generation) => new() { Generation = generation };

    /// <summary>The ordering in effect.</summary>
    public IOrdering CreateOrdering() => CustomOrdering ?? IOrdering.For(Generation.Ordering);

    /// <summary>The commit policy in effect.</summary>
    public ICommitPolicy CreatePolicy() => Commit switch
    {
        CommitRule.Schedule => AlgTemp == 0 ? SchedulePolicy.Reference : new SchedulePolicy(AlgTemp),
        CommitRule.Threshold => new ThresholdPolicy(Threshold),
        CommitRule.Factor => new FactorPolicy(Factor),
        CommitRule.Dream => new DreamSchedulePolicy(DreamEps, AlgTemp),
        _ => throw new ArgumentException($"unknown commit rule '{Commit}'"),
    };

    /// <summary>Checks every knob and their combinations; messages name the CLI flag.</summary>
    /// <exception cref="ArgumentException">A knob is out of range or two knobs conflict.</exception>
    public void Validate()
    {
        Generation.Validate();
        if (!Enum.IsDefined(Commit)) throw new ArgumentException($"unknown commit rule '{Commit}'");
        if (!(Threshold > 0 && Threshold <= 1)) throw new ArgumentException($"threshold must be in (0, 1], got {Threshold}");
        if (!(Factor > 0) || double.IsInfinity(Factor)) throw new ArgumentException($"factor must be a finite number > 0, got {Factor}");
        if (!(DreamEps > 0 && DreamEps < 1)) throw new ArgumentException($"dream-eps must be in (0, 1), got {DreamEps}");
        if (!(AlgTemp >= 0) || double.IsInfinity(AlgTemp)) throw new ArgumentException($"alg-temp must be a finite number ≥ 0, got {AlgTemp}");
        if (AlgTemp > 0 && Commit is CommitRule.Threshold or CommitRule.Factor)
            throw new ArgumentException($"alg-temp applies to the schedule and dream commit rules, not to {Commit.ToString().ToLowerInvariant()}");
        ICommitPolicy policy = CreatePolicy();
        IOrdering ordering = CreateOrdering();
        if (policy.NeedsProbabilityScores && !ordering.IsProbability)
            throw new ArgumentException($"commit {policy.Name} compares scores with a probability level; remasking '{ordering.Name}' does not score probabilities");
        Remdm?.Validate();
        if (EarlyStop && EosId is null) throw new ArgumentException("early-stop needs eos-id");
        if (EosId is < 0) throw new ArgumentException($"eos-id must be ≥ 0, got {EosId}");
        if (!Enum.IsDefined(Cache)) throw new ArgumentException($"unknown cache mode '{Cache}'");
        if (RefreshInterval < 0) throw new ArgumentException($"refresh-interval must be ≥ 0, got {RefreshInterval}");
        if (RefreshInterval > 0 && Cache == CacheMode.None) throw new ArgumentException("refresh-interval needs a cache (--cache prefix or dual)");
        if (InfillBlockLength is <= 0) throw new ArgumentException($"infill-block-length must be positive, got {InfillBlockLength}");
    }
}
