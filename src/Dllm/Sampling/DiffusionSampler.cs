using Dllm.Model;

namespace Dllm.Sampling;

/// <summary>
/// The general masked-diffusion sampler: every decoding strategy of <see cref="DecodingOptions"/> over
/// one loop. A canvas starts with masks where the model should write; each step runs the model on the
/// canvas, predicts x0 at every candidate (a masked position before the current block's end), scores
/// it with the ordering (<see cref="IOrdering"/>) and commits the positions the commit policy
/// (<see cref="ICommitPolicy"/>) selects; the rest stay masked. Blocks are decoded left to right
/// (semi-autoregressive when there are several). Optional: ReMDM loop remasking, early stop at EOS,
/// Fast-dLLM KV cache, classifier-free guidance, batches of prompts of different lengths.
/// </summary>
/// <remarks>
/// With the default strategy knobs of <see cref="DecodingOptions"/> (schedule commit, no cache, no early
/// stop, no ReMDM loop) this is LLaDA's generate.py (paper §2.4 and Appendix B.3): same committed tokens,
/// same per-step positions, same forward count, same random draws (one <see cref="Random"/>(Seed) per
/// sequence: per step, per candidate in position order, the token's Gumbel draws then the random
/// ordering's draw). Ties in the score go to the lower position. A step with no candidate runs no forward
/// but still counts as a step.
/// Batches: sequences are left-padded to a common length with a pad id and a key mask that hides the
/// padding; each has its own generator (same seed as alone), schedule and early stop, so without a
/// cache the result for each prompt equals decoding it alone (the model must honour the key mask and
/// be position-shift invariant, as RoPE attention with a key mask is). Not thread-safe per instance
/// only as far as the model is not.
/// The round loop itself is <see cref="DenoisingBatch"/>'s, which <see cref="ContinuousBatcher"/> drives for
/// requests that join and leave between rounds: there is one sampling loop.
/// </remarks>
public sealed class DiffusionSampler
{
    private readonly IDenoisingModel _model;
    private readonly int _maskId;

    /// <param name="model">The mask predictor.</param>
    /// <param name="maskId">The mask token id (LLaDA: 126336).</param>
    /// <exception cref="ArgumentOutOfRangeException">The mask id is outside the vocabulary.</exception>
    public DiffusionSampler(IDenoisingModel model, int maskId)
    {
        ArgumentNullException.ThrowIfNull(model);
        if ((uint)maskId >= (uint)model.VocabSize) throw new ArgumentOutOfRangeException(nameof(maskId), maskId, $"mask id outside the vocabulary [0, {model.VocabSize})");
        _model = model;
        _maskId = maskId;
    }

    /// <summary>Decodes <c>GenLength</c> tokens after <paramref name="prompt"/>.</summary>
    /// <exception cref="DecodingOptionException">Invalid options, CFG with an empty prompt, or prompt + GenLength longer than the model's maximum.</exception>
    /// <exception cref="NotSupportedException">A cache mode with a model that cannot cache.</exception>
    public GenerationResult Generate(IReadOnlyList<int> prompt, DecodingOptions options,
        Action<DenoisingStep>? onStep = null, CancellationToken cancellationToken = default)
        => GenerateBatch([prompt], options, padId: 0, seeds: null, onStep, cancellationToken)[0];

    /// <summary>
    /// Decodes several prompts together: one model call per round serves every sequence that needs one.
    /// Prompts are left-padded with <paramref name="padId"/> (hidden by the key mask) so the answers line
    /// up at the end. Sequence i uses <paramref name="seeds"/>[i], or the options' seed.
    /// </summary>
    /// <exception cref="DecodingOptionException">As <see cref="Generate"/>, for any prompt.</exception>
    /// <exception cref="ArgumentException">A pad id outside the vocabulary, or as many seeds as prompts not given.</exception>
    public IReadOnlyList<GenerationResult> GenerateBatch(IReadOnlyList<IReadOnlyList<int>> prompts, DecodingOptions options,
        int padId, IReadOnlyList<int>? seeds = null, Action<DenoisingStep>? onStep = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        if (prompts.Count == 0) return [];
        if ((uint)padId >= (uint)_model.VocabSize) throw new ArgumentOutOfRangeException(nameof(padId), padId, $"pad id outside the vocabulary [0, {_model.VocabSize})");
        if (seeds is not null && seeds.Count != prompts.Count) throw new ArgumentException($"{seeds.Count} seeds for {prompts.Count} prompts");
        var sequences = new List<SequenceState>(prompts.Count);
        for (int i = 0; i < prompts.Count; i++)
            sequences.Add(Start(prompts[i], options, i, seeds?[i] ?? options.Seed, onStep, default));
        // A block diffusion model's exact cache holds one grid: with a cache, prompts of one length decode together
        // and the lengths one after another.
        if (_model.DiffusionBlockSize > 0 && options.Cache != CacheMode.None)
        {
            var results = new GenerationResult[sequences.Count];
            foreach (var group in sequences.GroupBy(s => s.Length))
            {
                List<SequenceState> members = [.. group];
                IReadOnlyList<GenerationResult> done = Run(members, padId, cancellationToken);
                for (int i = 0; i < members.Count; i++) results[members[i].Index] = done[i];
            }
            return results;
        }
        return Run(sequences, padId, cancellationToken);
    }

    /// <summary>
    /// The state of one prompt's decoding, unpadded (the batch pads per forward): checks the prompt against
    /// the options and the model. <paramref name="options"/> must be validated.
    /// </summary>
    /// <exception cref="DecodingOptionException">CFG with an empty prompt, prompt + GenLength longer than the model's maximum,
    /// sub_block_length on a whole-canvas model, or knobs that fight a block diffusion model's grid (<see cref="BlockGridPlan.StepsPerBlock"/>).</exception>
    internal SequenceState Start(IReadOnlyList<int> prompt, DecodingOptions options, int index, int seed,
        Action<DenoisingStep>? onStep, CancellationToken cancellationToken)
    {
        int p = prompt.Count, grid = _model.DiffusionBlockSize;
        if (grid == 0 && options.SubBlockLength is not null)
            throw new DecodingOptionException(KnobNames.SubBlockLength, $"{KnobNames.SubBlockLength} applies to block diffusion models only");
        // A block diffusion model decodes on its own grid (BlockGridPlan): the canvas runs to the block boundary after
        // prompt + gen_length and the result is cut back; other models take gen_length in NumBlocks semi-AR blocks.
        int length = grid > 0 ? BlockGridPlan.CanvasLength(p, options.GenLength, grid) : p + options.GenLength;
        int stepsPerBlock = grid > 0 ? BlockGridPlan.StepsPerBlock(options, grid) : options.StepsPerBlock;
        if (p == 0 && options.CfgScale > 0)
            throw new DecodingOptionException(KnobNames.CfgScale, $"{KnobNames.CfgScale} > 0 (classifier-free guidance) needs a non-empty prompt");
        if (length > _model.MaxSequenceLength)
            throw new DecodingOptionException(KnobNames.GenLength,
                $"prompt ({p}) + {KnobNames.GenLength} ({options.GenLength}){(grid > 0 ? $", rounded up to the block size {grid}," : "")} = {length} tokens exceeds the model's maximum sequence length {_model.MaxSequenceLength}");
        var canvas = new int[length];
        for (int i = 0; i < p; i++) canvas[i] = prompt[i];
        canvas.AsSpan(p).Fill(_maskId);
        var owned = new bool[length];
        var condition = new bool[length];
        // On a grid a mask token inside the prompt stays given: its block may be final and cached before it.
        for (int i = 0; i < length; i++) owned[i] = grid > 0 ? i >= p : canvas[i] == _maskId;
        for (int i = 0; i < p; i++) condition[i] = true;
        (int, int)[] blocks;
        if (grid > 0) blocks = BlockGridPlan.Blocks(p, length, grid, options.SubBlockLength);
        else
        {
            int block = options.GenLength / options.NumBlocks;
            blocks = new (int, int)[options.NumBlocks];
            for (int k = 0; k < blocks.Length; k++) blocks[k] = (p + k * block, p + (k + 1) * block);
        }
        return new SequenceState(index, canvas, owned, condition, p, p, blocks, stepsPerBlock, new Random(seed), _maskId, options)
        { OnStep = onStep, Cancellation = cancellationToken, ResultLength = grid > 0 ? p + options.GenLength : null };
    }

    /// <summary>
    /// Infilling: fills every mask of <paramref name="canvas"/>, wherever it is, never changing unmasked
    /// or pinned positions. All masks form one block (from the first mask to the end) unless
    /// <see cref="DecodingOptions.InfillBlockLength"/> splits that span into blocks decoded left to right
    /// (the last may be shorter). GenLength and BlockLength are ignored; Steps is split over the blocks.
    /// For CFG the unconditional canvas masks every given (unmasked, unpinned) position. The result's
    /// PromptLength is the first mask's position.
    /// </summary>
    /// <exception cref="DecodingOptionException">Invalid options, CFG with nothing given to condition on, or Steps
    /// not a multiple of the block count.</exception>
    /// <exception cref="ArgumentException">An empty canvas, an id outside the vocabulary, a pin outside the canvas,
    /// or a canvas longer than the model's maximum.</exception>
    public GenerationResult Fill(InfillCanvas canvas, DecodingOptions options,
        Action<DenoisingStep>? onStep = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        return Run([StartFill(canvas, options, onStep, default)], padId: 0, cancellationToken)[0];
    }

    /// <summary>The state of one infill (see <see cref="Fill"/>); <paramref name="options"/> must be validated.</summary>
    /// <exception cref="DecodingOptionException">As <see cref="Fill"/>.</exception>
    /// <exception cref="ArgumentException">As <see cref="Fill"/>.</exception>
    internal SequenceState StartFill(InfillCanvas canvas, DecodingOptions options, Action<DenoisingStep>? onStep, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canvas);
        int length = canvas.Tokens.Length;
        if (length == 0) throw new ArgumentException("empty canvas");
        if (length > _model.MaxSequenceLength)
            throw new ArgumentException($"canvas of {length} tokens exceeds the model's maximum sequence length {_model.MaxSequenceLength}");
        foreach (int t in canvas.Tokens)
            if ((uint)t >= (uint)_model.VocabSize) throw new ArgumentException($"token id {t} is outside the vocabulary [0, {_model.VocabSize})");
        if (canvas.Pinned is not null)
            foreach (int p in canvas.Pinned)
                if ((uint)p >= (uint)length) throw new ArgumentException($"pinned position {p} is outside the canvas [0, {length})");

        var ids = (int[])canvas.Tokens.Clone();
        var owned = new bool[length];
        var condition = new bool[length];
        int first = length;
        for (int i = 0; i < length; i++)
        {
            owned[i] = ids[i] == _maskId && !canvas.IsPinned(i);
            condition[i] = ids[i] != _maskId && !canvas.IsPinned(i);
            if (owned[i] && first == length) first = i;
        }
        if (options.CfgScale > 0 && !condition.Contains(true))
            throw new DecodingOptionException(KnobNames.CfgScale, $"{KnobNames.CfgScale} > 0 (classifier-free guidance) needs given tokens to condition on");
        int span = length - first, blockLength = options.InfillBlockLength is int bl ? Math.Min(bl, Math.Max(span, 1)) : Math.Max(span, 1);
        int numBlocks = span == 0 ? 0 : (span + blockLength - 1) / blockLength;
        if (numBlocks > 0 && options.Steps % numBlocks != 0)
            throw new DecodingOptionException(KnobNames.Steps, $"{KnobNames.Steps} ({options.Steps}) must be a multiple of the number of infill blocks ({numBlocks})");
        var blocks = new (int, int)[numBlocks];
        for (int k = 0; k < numBlocks; k++) blocks[k] = (first + k * blockLength, Math.Min(length, first + (k + 1) * blockLength));
        return new SequenceState(0, ids, owned, condition, Math.Min(first, length), first, blocks,
            numBlocks == 0 ? 1 : options.Steps / numBlocks, new Random(options.Seed), _maskId, options)
        { OnStep = onStep, Cancellation = cancellationToken, Constraint = canvas.Constraint };
    }

    /// <summary>Runs sequences to the end in one <see cref="DenoisingBatch"/> (the loop every entry point and the
    /// continuous batcher share), rethrowing a step callback's exception.</summary>
    private IReadOnlyList<GenerationResult> Run(List<SequenceState> sequences, int padId, CancellationToken cancellationToken)
    {
        var batch = new DenoisingBatch(_model, _maskId, padId);
        foreach (SequenceState s in sequences) batch.Join(s);
        while (batch.Active.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (SequenceState s in batch.Step())
                if (s.Failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(s.Failure);
        }
        return [.. sequences.Select(s => s.Result())];
    }
}
