namespace Dllm.Sampling;

/// <summary>
/// Everything <see cref="DiffusionSampler"/> can be told, checked in one place (<see cref="Validate"/>):
/// the knobs of LLaDA's reference generate.py (lengths, steps, temperature, CFG, ordering, seed), the
/// decoding strategies of the field (commit rules, KV cache, early stop, ReMDM loop, infill blocks) and
/// the answer cap of the chat front ends. The defaults are generate.py's: one block of 128 positions,
/// 128 steps, greedy, low-confidence ordering, no cache, no early stop.
/// </summary>
/// <remarks>
/// <para>Every property has a canonical snake_case name, the name of the knob that sets it
/// (<c>gen_length</c>, <c>block_length</c>...); a validation error carries it as
/// <see cref="DecodingOptionException.Knob"/>. <c>Dllm.Chat.DecodingKnobs</c> sets the properties by
/// those names from text, JSON or .NET values.</para>
/// <para>Immutable; derive variants with <c>with</c>. Validation is not done on construction:
/// <see cref="DiffusionSampler"/> validates before decoding, and front ends call <see cref="Validate"/>
/// to reject a request early.</para>
/// </remarks>
public sealed record DecodingOptions
{
    /// <summary>Answer length in tokens: the masked canvas appended to the prompt (<c>gen_length</c>). &gt; 0.</summary>
    public int GenLength { get; init; } = 128;

    /// <summary>
    /// Semi-autoregressive block length (<c>block_length</c>): the answer is decoded in blocks of this many
    /// positions, left to right. Must divide <see cref="GenLength"/>. Null = one block spanning the whole
    /// answer (pure diffusion; generate.py's default of block_length = gen_length = 128).
    /// </summary>
    public int? BlockLength { get; init; }

    /// <summary>Total denoising steps (<c>steps</c>), split evenly over the blocks, so a multiple of <see cref="NumBlocks"/>.
    /// Threshold and factor commits ignore the budget (a block ends when it is unmasked).</summary>
    public int Steps { get; init; } = 128;

    /// <summary>Gumbel-max temperature (<c>temperature</c>); 0 is greedy argmax. Finite, ≥ 0.</summary>
    public double Temperature { get; init; }

    /// <summary>Classifier-free guidance scale (<c>cfg_scale</c>); 0 disables it (one forward per step instead of two).
    /// Finite, ≥ 0; &gt; 0 needs a non-empty prompt.</summary>
    public double CfgScale { get; init; }

    /// <summary>
    /// Which masked positions to commit first. Its knob keeps LLaDA generate.py's name, <c>remasking</c>
    /// (<c>low_confidence</c>, <c>random</c>, <c>topk_margin</c>, <c>entropy</c>): generate.py calls the
    /// positions it leaves masked "remasked", but what it chooses is the order of commitment. Ignored when
    /// <see cref="CustomOrdering"/> is set.
    /// </summary>
    public OrderingRule Ordering { get; init; } = OrderingRule.LowConfidence;

    /// <summary>An ordering of the caller's; overrides <see cref="Ordering"/> when set. No knob sets it.</summary>
    public IOrdering? CustomOrdering { get; init; }

    /// <summary>Seed of the Gumbel noise, the random ordering and alg_temp draws (<c>seed</c>).</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Cap on the answer tokens a completion returns (<c>max_tokens</c>); null = the whole canvas. The sampler
    /// always denoises <see cref="GenLength"/> positions; <see cref="MaxAnswerTokens"/> is what is kept. ≥ 1;
    /// a cap above GenLength keeps the whole canvas.
    /// </summary>
    public int? MaxTokens { get; init; }

    /// <summary>The commit policy (<c>commit</c>).</summary>
    public CommitRule Commit { get; init; } = CommitRule.Schedule;

    /// <summary>τ for <see cref="CommitRule.Threshold"/> (<c>threshold</c>), in (0, 1]. Fast-dLLM's default 0.9.</summary>
    public double Threshold { get; init; } = 0.9;

    /// <summary>f for <see cref="CommitRule.Factor"/> (<c>factor</c>), finite, &gt; 0. Fast-dLLM's default 1.</summary>
    public double Factor { get; init; } = 1.0;

    /// <summary>Final time eps of <see cref="CommitRule.Dream"/> (<c>dream_eps</c>, no knob), in (0, 1). Dream's default 1e-3.</summary>
    public double DreamEps { get; init; } = 1e-3;

    /// <summary>Dream's alg_temp (<c>alg_temp</c>): &gt; 0 draws positions from softmax(score/alg_temp) instead of
    /// taking the top-k. Finite, ≥ 0; only with the schedule and dream commit rules.</summary>
    public double AlgTemp { get; init; }

    /// <summary>ReMDM loop remasking of committed tokens (<c>remdm</c> sets its Count); null (default) = off.</summary>
    public RemdmLoop? Remdm { get; init; }

    /// <summary>
    /// Stop a sequence as soon as its answer is final (<c>early_stop</c>): an EOS is committed and every answer
    /// position before it is unmasked; the rest of the answer is then filled with EOS without further forwards.
    /// Needs <see cref="EosId"/>. Off by default (generate.py has no early stop).
    /// </summary>
    public bool EarlyStop { get; init; }

    /// <summary>End-of-sequence id for <see cref="EarlyStop"/> (<c>eos_id</c>, no knob: the model's; LLaDA: 126081). ≥ 0.</summary>
    public int? EosId { get; init; }

    /// <summary>KV-cache mode (<c>cache</c>); anything but None needs an ICachingDenoisingModel.</summary>
    public CacheMode Cache { get; init; } = CacheMode.None;

    /// <summary>With a cache (<c>refresh_interval</c>): also refresh once this many steps have passed since the
    /// last refresh; 0 = only at block starts. ≥ 0; &gt; 0 needs a cache.</summary>
    public int RefreshInterval { get; init; }

    /// <summary>
    /// With a cache on a bidirectional model (<c>reuse_prefix</c>): a refresh of a single canvas reuses the cached keys
    /// and values of the leading rows whose tokens equal those the cache last stored (a chat's history, a shared system
    /// prompt), up to the first position asked for, and recomputes only the rest. Approximate, like the cache itself:
    /// under full attention those rows also depend on the tokens after them, which may have changed. Block diffusion
    /// models always reuse (exactly), so this changes nothing for them. Needs a cache.
    /// </summary>
    public bool ReusePrefix { get; init; }

    /// <summary>
    /// For <see cref="DiffusionSampler.Fill"/> (<c>infill_block_length</c>, no knob): split the span from the first
    /// mask to the end into blocks of this many positions, decoded left to right (semi-autoregressive infilling).
    /// Null = one block. &gt; 0.
    /// </summary>
    public int? InfillBlockLength { get; init; }

    /// <summary>
    /// Fast-dLLM v2's <c>small_block_size</c> (<c>sub_block_length</c>), for block diffusion models only: each of the
    /// model's blocks is decoded in sub-blocks of this many positions, left to right, and a block whose first position
    /// is part of the answer decodes that position first and alone (Fast-dLLM v2 predicts it from the previous block,
    /// its "AR token"). Null = whole blocks. &gt; 0.
    /// </summary>
    public int? SubBlockLength { get; init; }

    /// <summary>
    /// LLaDA2.1's token editing (<c>edit_threshold</c>; arXiv 2602.08676, the joint threshold of SGLang's JointThreshold):
    /// at every step a committed token of the current block is rewritten to the model's choice when that differs
    /// and its probability exceeds this; once the block has no masks, edit-only steps continue while one changes
    /// something, at most <see cref="MaxPostEditSteps"/>. Null (default) = committed tokens are final. In [0, 1).
    /// </summary>
    public double? EditThreshold { get; init; }

    /// <summary>Edit-only steps a block may take once unmasked (<c>max_post_edit_steps</c>; SGLang's default 16). ≥ 0.</summary>
    public int MaxPostEditSteps { get; init; } = 16;

    /// <summary>Blocks the answer is split into (1 when <see cref="BlockLength"/> is null).</summary>
    public int NumBlocks => BlockLength is int b && b > 0 ? GenLength / b : 1;

    /// <summary>Denoising steps spent on each block.</summary>
    public int StepsPerBlock => Steps / NumBlocks;

    /// <summary>The most answer tokens a completion returns: <see cref="MaxTokens"/>, at most <see cref="GenLength"/>.</summary>
    public int MaxAnswerTokens => Math.Min(MaxTokens ?? GenLength, GenLength);

    /// <summary>The ordering in effect: <see cref="CustomOrdering"/>, else the one of <see cref="Ordering"/>.</summary>
    /// <exception cref="ArgumentException">An undefined <see cref="Ordering"/> value.</exception>
    public IOrdering CreateOrdering() => CustomOrdering ?? IOrdering.For(Ordering);

    /// <summary>The commit policy in effect.</summary>
    /// <exception cref="ArgumentException">An undefined <see cref="Commit"/> value, or a parameter of the rule out of range.</exception>
    public ICommitPolicy CreatePolicy() => Commit switch
    {
        CommitRule.Schedule => AlgTemp == 0 ? SchedulePolicy.Reference : new SchedulePolicy(AlgTemp),
        CommitRule.Threshold => new ThresholdPolicy(Threshold),
        CommitRule.Factor => new FactorPolicy(Factor),
        CommitRule.Dream => new DreamSchedulePolicy(DreamEps, AlgTemp),
        CommitRule.Dynamic => new DynamicThresholdPolicy(Threshold),
        _ => throw new ArgumentException($"unknown commit rule '{Commit}'"),
    };

    /// <summary>
    /// Checks every knob and their combinations (the constraints generate.py asserts, and those of each
    /// strategy). The first problem found is thrown; it names the knob at fault.
    /// </summary>
    /// <exception cref="DecodingOptionException">A knob is out of range or two knobs conflict.</exception>
    public void Validate()
    {
        if (MaxTokens is <= 0) throw Bad(KnobNames.MaxTokens, $"{KnobNames.MaxTokens} must be ≥ 1, got {MaxTokens}");
        if (GenLength <= 0) throw Bad(KnobNames.GenLength, $"{KnobNames.GenLength} must be positive, got {GenLength}");
        if (Steps <= 0) throw Bad(KnobNames.Steps, $"{KnobNames.Steps} must be positive, got {Steps}");
        if (BlockLength is int block)
        {
            if (block <= 0) throw Bad(KnobNames.BlockLength, $"{KnobNames.BlockLength} must be positive, got {block}");
            if (GenLength % block != 0)
                throw Bad(KnobNames.GenLength, $"{KnobNames.GenLength} ({GenLength}) must be a multiple of {KnobNames.BlockLength} ({block})");
        }
        if (Steps % NumBlocks != 0)
            throw Bad(KnobNames.Steps, $"{KnobNames.Steps} ({Steps}) must be a multiple of the number of blocks ({NumBlocks} = {KnobNames.GenLength} / {KnobNames.BlockLength})");
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
            throw Bad(KnobNames.Temperature, $"{KnobNames.Temperature} must be a finite number ≥ 0, got {Temperature}");
        if (!(CfgScale >= 0) || double.IsInfinity(CfgScale))
            throw Bad(KnobNames.CfgScale, $"{KnobNames.CfgScale} must be a finite number ≥ 0, got {CfgScale}");
        if (!Enum.IsDefined(Ordering)) throw Bad(KnobNames.Remasking, $"unknown {KnobNames.Remasking} '{Ordering}'");
        if (!Enum.IsDefined(Commit)) throw Bad(KnobNames.Commit, $"unknown {KnobNames.Commit} rule '{Commit}'");
        if (!(Threshold > 0 && Threshold <= 1)) throw Bad(KnobNames.Threshold, $"{KnobNames.Threshold} must be in (0, 1], got {Threshold}");
        if (!(Factor > 0) || double.IsInfinity(Factor)) throw Bad(KnobNames.Factor, $"{KnobNames.Factor} must be a finite number > 0, got {Factor}");
        if (!(DreamEps > 0 && DreamEps < 1)) throw Bad(KnobNames.DreamEps, $"{KnobNames.DreamEps} must be in (0, 1), got {DreamEps}");
        if (!(AlgTemp >= 0) || double.IsInfinity(AlgTemp)) throw Bad(KnobNames.AlgTemp, $"{KnobNames.AlgTemp} must be a finite number ≥ 0, got {AlgTemp}");
        ICommitPolicy policy = CreatePolicy();
        if (AlgTemp > 0 && Commit is CommitRule.Threshold or CommitRule.Factor or CommitRule.Dynamic)
            throw Bad(KnobNames.AlgTemp, $"{KnobNames.AlgTemp} applies to the schedule and dream commit rules, not to {policy.Name}");
        IOrdering ordering = CreateOrdering();
        if (policy.NeedsProbabilityScores && !ordering.IsProbability)
            throw Bad(KnobNames.Commit, $"{KnobNames.Commit} {policy.Name} compares scores with a probability level; {KnobNames.Remasking} '{ordering.Name}' does not score probabilities");
        Remdm?.Validate();
        if (EarlyStop && EosId is null) throw Bad(KnobNames.EarlyStop, $"{KnobNames.EarlyStop} needs {KnobNames.EosId}");
        if (EosId is < 0) throw Bad(KnobNames.EosId, $"{KnobNames.EosId} must be ≥ 0, got {EosId}");
        if (!Enum.IsDefined(Cache)) throw Bad(KnobNames.Cache, $"unknown {KnobNames.Cache} mode '{Cache}'");
        if (RefreshInterval < 0) throw Bad(KnobNames.RefreshInterval, $"{KnobNames.RefreshInterval} must be ≥ 0, got {RefreshInterval}");
        if (RefreshInterval > 0 && Cache == CacheMode.None)
            throw Bad(KnobNames.RefreshInterval, $"{KnobNames.RefreshInterval} needs a cache ({KnobNames.Cache} prefix or dual)");
        if (ReusePrefix && Cache == CacheMode.None)
            throw Bad(KnobNames.ReusePrefix, $"{KnobNames.ReusePrefix} needs a cache ({KnobNames.Cache} prefix or dual)");
        if (InfillBlockLength is <= 0)
            throw Bad(KnobNames.InfillBlockLength, $"{KnobNames.InfillBlockLength} must be positive, got {InfillBlockLength}");
        if (EditThreshold is double et && !(et >= 0 && et < 1))
            throw Bad(KnobNames.EditThreshold, $"{KnobNames.EditThreshold} must be in [0, 1), got {et}");
        if (MaxPostEditSteps < 0) throw Bad(KnobNames.MaxPostEditSteps, $"{KnobNames.MaxPostEditSteps} must be ≥ 0, got {MaxPostEditSteps}");
        if (SubBlockLength is <= 0)
            throw Bad(KnobNames.SubBlockLength, $"{KnobNames.SubBlockLength} must be positive, got {SubBlockLength}");
    }

    private static DecodingOptionException Bad(KnobName knob, FormattableString text) => new(knob, text);
}
