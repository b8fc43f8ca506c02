namespace Dllm.Sampling;

/// <summary>
/// One sequence being decoded: its canvas (unpadded: the caller's coordinates; <see cref="ModelRunner"/>
/// left-pads it per forward), which positions the sampler may write, its blocks and where it stands in
/// them, its own decoding knobs (policy, ordering, temperature, early stop, ReMDM loop), its generator,
/// its step callback and cancellation, and its counters. Everything a <see cref="DenoisingBatch"/> needs to
/// step it next to sequences with other knobs.
/// </summary>
/// <remarks>
/// "Owned" positions are those that held the mask id at the start and are not pinned: the only
/// positions the sampler ever writes. Prompt/given/pinned positions never change.
/// </remarks>
internal sealed class SequenceState(int index, int[] canvas, bool[] owned, bool[] condition, int promptLength, int answerStart,
    (int Start, int End)[] blocks, int stepsPerBlock, Random rng, int maskId, DecodingOptions options)
{
    public int Index { get; } = index;
    public int[] Canvas { get; } = canvas;
    public bool[] Owned { get; } = owned;
    /// <summary>Positions the unconditional (CFG) canvas replaces with the mask.</summary>
    public bool[] Condition { get; } = condition;
    public int PromptLength { get; } = promptLength;
    /// <summary>First position of the answer (for early stop).</summary>
    public int AnswerStart { get; } = answerStart;
    public (int Start, int End)[] Blocks { get; } = blocks;
    public int StepsPerBlock { get; } = stepsPerBlock;
    public Random Rng { get; } = rng;
    public int MaskId { get; } = maskId;
    /// <summary>This sequence's knobs; its forward settings (cache, CFG) must match its batch's.</summary>
    public DecodingOptions Options { get; } = options;
    public ICommitPolicy Policy { get; } = options.CreatePolicy();
    public IOrdering Ordering { get; } = options.CreateOrdering();
    /// <summary>Called after each of this sequence's steps; an exception fails this sequence only.</summary>
    public Action<DenoisingStep>? OnStep { get; init; }
    /// <summary>Optional per-position allowed tokens (consulted before choosing and again at commit).</summary>
    public ITokenConstraint? Constraint { get; init; }
    /// <summary>Cancels this sequence alone: its row leaves the batch before the next forward.</summary>
    public CancellationToken Cancellation { get; init; }
    /// <summary>Set when the sequence left its batch without a result (cancelled, or its callback threw).</summary>
    public Exception? Failure;

    public int Length => Canvas.Length;
    public double[] Recorded = [];

    // Progress.
    public int Block, StepInBlock, GlobalStep, MaskedAtBlockStart;
    public bool BlockBegun, LoopDone, Done, StoppedEarly;
    public int LoopLeft;

    // The step being prepared.
    public int[] Candidates = [];
    public bool IsLoopStep;
    public int[] Remasked = [];
    public BlockProgress Progress;
    /// <summary>Token editing (<see cref="DecodingOptions.EditThreshold"/>): a step with no masks left, only edits.</summary>
    public bool IsEditStep;
    /// <summary>Edit-only steps taken in this block, and whether the last step changed anything.</summary>
    public int PostEditSteps;
    public bool Changed;

    // Counters and cache bookkeeping.
    public int Forwards, WindowForwards, StepsSinceRefresh;
    public bool NeedsRefresh;

    public (int Start, int End) CurrentBlock => Blocks[Block];

    private int CountMasked(int start, int end)
    {
        int n = 0;
        for (int i = start; i < end; i++) if (Owned[i] && Canvas[i] == MaskId) n++;
        return n;
    }

    /// <summary>
    /// Moves to the next step (a block's schedule step or a ReMDM loop step, remasking for the latter)
    /// and fills <see cref="Candidates"/>. Returns false, and sets <see cref="Done"/>, when every block is finished.
    /// </summary>
    public bool Prepare()
    {
        ICommitPolicy policy = Policy;
        RemdmLoop? remdm = Options.Remdm;
        if (Done) return false;
        if (Recorded.Length == 0) Recorded = new double[Length];
        while (true)
        {
            if (Block >= Blocks.Length) { Done = true; return false; }
            var (start, end) = Blocks[Block];
            if (!BlockBegun)
            {
                BlockBegun = true;
                MaskedAtBlockStart = CountMasked(start, end);
                LoopDone = false;
                LoopLeft = 0;
                NeedsRefresh = true;
                PostEditSteps = 0;
                Changed = true;
            }
            int masked = CountMasked(start, end);
            int committed = MaskedAtBlockStart - masked;
            if (remdm is not null && !LoopDone && committed > 0 && committed >= remdm.StartFraction * MaskedAtBlockStart)
            {
                LoopDone = true;
                LoopLeft = remdm.LoopSteps;
            }
            if (LoopLeft > 0)
            {
                LoopLeft--;
                IsLoopStep = true;
                var mine = new List<int>();
                for (int i = start; i < end; i++) if (Owned[i] && Canvas[i] != MaskId) mine.Add(i);
                Remasked = remdm!.PickRemask(mine, p => Recorded[p]);
                foreach (int p in Remasked) Canvas[p] = MaskId;
                Progress = new BlockProgress(StepInBlock, StepsPerBlock, MaskedAtBlockStart, CountMasked(start, end), end - start);
                FillCandidates(end);
                return true;
            }
            Progress = new BlockProgress(StepInBlock, StepsPerBlock, MaskedAtBlockStart, masked, end - start);
            IsLoopStep = IsEditStep = false;
            Remasked = [];
            if (policy.ContinueBlock(Progress))
            {
                FillCandidates(end);
                if (Options.EditThreshold is not null) AddEditable(start, end);
                return true;
            }
            // LLaDA2.1's post-fill edit phase: while a step changed something, up to max_post_edit_steps more.
            if (Options.EditThreshold is not null && Changed && PostEditSteps < Options.MaxPostEditSteps && masked == 0)
            {
                PostEditSteps++;
                IsEditStep = true;
                Candidates = [];
                AddEditable(start, end);
                if (Candidates.Length > 0) return true;
            }
            Block++;
            StepInBlock = 0;
            BlockBegun = false;
        }
    }

    /// <summary>Candidates: every owned masked position before the block's end, in position order
    /// (generate.py's mask_index with positions ≥ end cleared).</summary>
    private void FillCandidates(int end)
    {
        var list = new List<int>();
        for (int i = 0; i < end; i++) if (Owned[i] && Canvas[i] == MaskId) list.Add(i);
        Candidates = [.. list];
    }

    /// <summary>Adds the block's committed owned positions to the candidates (sorted): token editing re-reads them.</summary>
    private void AddEditable(int start, int end)
    {
        var all = new SortedSet<int>(Candidates);
        for (int i = start; i < end; i++) if (Owned[i] && Canvas[i] != MaskId) all.Add(i);
        Candidates = [.. all];
    }

    /// <summary>
    /// Scores the candidates from their logits rows, lets the policy (or the loop) choose, commits.
    /// Random draws, per candidate in position order: the token (if temperature &gt; 0), then the
    /// score's (random ordering); then the policy's (alg_temp).
    /// </summary>
    /// Candidate c's logits row starts at rowStart[c] in logits.
    public DenoisingStep Apply(float[] logits, int[] rowStart, int vocab)
    {
        IOrdering ordering = Ordering;
        ICommitPolicy policy = Policy;
        double temperature = Options.Temperature;
        bool snapshot = OnStep is not null;
        int n = Candidates.Length;
        var chosen = new int[n];
        var score = new double[n];
        for (int c = 0; c < n; c++)
        {
            Span<float> row = logits.AsSpan(rowStart[c], vocab);
            Constraint?.Restrict(Candidates[c], Canvas, row);
            chosen[c] = TokenChoice.Sample(row, temperature, Rng);
            score[c] = ordering.Score(row, chosen[c], Rng);
        }
        int[] edited = [], pick;
        if (IsLoopStep) pick = Selection.TopK(score, Remasked.Length);
        else if (Options.EditThreshold is double tau)
        {
            // With token editing the candidates also hold committed tokens to re-check; only the masked ones go to the policy.
            int[] masks = [.. Enumerable.Range(0, n).Where(c => Canvas[Candidates[c]] == MaskId)];
            edited = Edit(logits, rowStart, vocab, chosen, tau);
            pick = [.. policy.Select([.. masks.Select(c => score[c])], Progress, Rng).Select(k => masks[k])];
        }
        else pick = policy.Select(score, Progress, Rng);
        var committed = new int[pick.Length];
        var scores = new double[pick.Length];
        for (int j = 0; j < pick.Length; j++)
        {
            int c = pick[j], p = Candidates[c];
            if (Constraint is not null && !Constraint.Allows(p, chosen[c], Canvas))
            {
                // An earlier commit of this step ruled the choice out: the best token allowed now.
                Span<float> row = logits.AsSpan(rowStart[c], vocab);
                Constraint.Restrict(p, Canvas, row);
                chosen[c] = TokenChoice.Argmax(row);
            }
            Canvas[p] = chosen[c];
            Recorded[p] = score[c];
            committed[j] = p;
            scores[j] = score[c];
        }
        var step = new DenoisingStep(GlobalStep, Block, StepInBlock, PromptLength, MaskId,
            snapshot ? (int[])Canvas.Clone() : [], committed, scores)
        {
            Sequence = Index,
            RemaskedPositions = [.. Remasked],
            EditedPositions = edited,
        };
        GlobalStep++;
        if (!IsLoopStep && !IsEditStep) StepInBlock++;
        Changed = committed.Length > 0 || edited.Length > 0;
        return step;
    }

    /// <summary>
    /// LLaDA2.1's token-to-token editing (arXiv 2602.08676; the joint-threshold rule as SGLang's JointThreshold runs
    /// it): a committed token of the block is rewritten to the model's choice when that differs and its probability
    /// exceeds τ. Returns the positions edited.
    /// </summary>
    private int[] Edit(float[] logits, int[] rowStart, int vocab, int[] chosen, double tau)
    {
        var edited = new List<int>();
        for (int c = 0; c < Candidates.Length; c++)
        {
            int p = Candidates[c];
            if (Canvas[p] == MaskId || chosen[c] == Canvas[p]) continue;
            ReadOnlySpan<float> row = logits.AsSpan(rowStart[c], vocab);
            double prob = Math.Exp(row[chosen[c]] - Tensors.Softmax.LogSumExp(row));
            if (prob <= tau || (Constraint is not null && !Constraint.Allows(p, chosen[c], Canvas))) continue;
            Canvas[p] = chosen[c];
            edited.Add(p);
        }
        return [.. edited];
    }

    /// <summary>
    /// Early stop: when an owned answer position holds <paramref name="eosId"/> and no owned answer
    /// position before it is masked, the answer is final; every owned position after it becomes EOS
    /// and the sequence is done. Returns true when it stopped.
    /// </summary>
    public bool TryStopEarly(int eosId)
    {
        for (int i = AnswerStart; i < Length; i++)
        {
            if (!Owned[i]) continue;
            if (Canvas[i] == MaskId) return false;
            if (Canvas[i] != eosId) continue;
            for (int j = i + 1; j < Length; j++) if (Owned[j]) Canvas[j] = eosId;
            Done = StoppedEarly = true;
            return true;
        }
        return false;
    }

    /// <summary>Canvas positions the result keeps (a block diffusion canvas runs past the answer to a block boundary); null = all.</summary>
    public int? ResultLength { get; init; }

    /// <summary>The finished result, in the caller's coordinates.</summary>
    public GenerationResult Result() => new(Canvas[..Math.Min(Canvas.Length, ResultLength ?? Canvas.Length)], PromptLength, Forwards)
    {
        Nfe = Forwards * (Options.CfgScale > 0 ? 2 : 1),
        WindowForwards = WindowForwards,
        Steps = GlobalStep,
        StoppedEarly = StoppedEarly,
    };
}
