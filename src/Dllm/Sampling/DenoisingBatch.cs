using Dllm.Model;

namespace Dllm.Sampling;

/// <summary>
/// The one denoising loop body, driven a round at a time from outside: the sequences in the batch each
/// take their next step (a block's schedule step or a ReMDM loop step) and every one that has candidates
/// shares ONE model call (<see cref="ModelRunner"/>: left padding to the longest canvas, key mask, CFG
/// copies, cache windows). Sequences may join between rounds and leave when done, cancelled or failed;
/// each keeps its own knobs (<see cref="SequenceState.Options"/>): steps, blocks, commit rule, ordering,
/// temperature, seed, early stop, ReMDM loop.
/// </summary>
/// <remarks>
/// <para>What must be shared is only what shapes the forward itself: the cache mode and the CFG scale
/// (<see cref="Accepts"/>). A cached batch accepts no one once it has started: a joiner would force a
/// refresh that changes the others' results (<see cref="ModelRunner"/>'s cache contract), so cached
/// requests are batched only with the ones that started with them (<see cref="DiffusionSampler.GenerateBatch"/>).</para>
/// <para>Without a cache, a sequence's tokens do not depend on the others in its rounds (the model honours
/// the key mask and is shift invariant, as RoPE attention with a key mask is): joining late or next to
/// other knobs gives the answer it gets alone. Not thread-safe: one driver calls <see cref="Join"/> and
/// <see cref="Step"/>.</para>
/// </remarks>
internal sealed class DenoisingBatch(IDenoisingModel model, int maskId, int padId)
{
    private readonly List<SequenceState> _active = [];
    private ModelRunner? _runner;
    private DecodingOptions? _forward;
    private bool _started;

    /// <summary>Sequences in the batch (not yet returned by <see cref="Step"/>).</summary>
    public IReadOnlyList<SequenceState> Active => _active;

    /// <summary>Model calls made, and the rows they carried in all (rows per forward = Rows / Forwards; CFG copies not counted).</summary>
    public long Forwards { get; private set; }
    public long Rows { get; private set; }

    /// <summary>Whether a sequence with <paramref name="options"/> may join now: the batch is empty, or neither
    /// it nor the batch uses a cache and both have the same CFG scale.</summary>
    public bool Accepts(DecodingOptions options)
        => _active.Count == 0 || (_forward!.Cache == CacheMode.None && options.Cache == CacheMode.None && options.CfgScale == _forward.CfgScale)
           || (!_started && options.Cache == _forward!.Cache && options.RefreshInterval == _forward.RefreshInterval && options.CfgScale == _forward.CfgScale);

    /// <summary><see cref="Accepts(DecodingOptions)"/>, and for a block diffusion model's cache the same canvas length
    /// as the batch (its exact cache holds one grid: padding would move it).</summary>
    public bool Accepts(SequenceState sequence)
        => Accepts(sequence.Options)
           && (_active.Count == 0 || sequence.Options.Cache == CacheMode.None || model.DiffusionBlockSize == 0 || _active[0].Length == sequence.Length);

    /// <summary>Empties the batch (after a failed forward).</summary>
    public void Clear() => _active.Clear();

    /// <summary>Adds a sequence; it takes its first step in the next round.</summary>
    /// <exception cref="InvalidOperationException">The batch does not <see cref="Accepts"/> its options.</exception>
    /// <exception cref="NotSupportedException">A cache mode with a model that cannot cache.</exception>
    public void Join(SequenceState sequence)
    {
        if (!Accepts(sequence)) throw new InvalidOperationException("this sequence's cache or CFG settings (or, on a block diffusion cache, its length) differ from the batch's");
        if (_active.Count == 0)
        {
            _runner = new ModelRunner(model, sequence.Options, maskId, padId);
            _forward = sequence.Options;
            _started = false;
        }
        _active.Add(sequence);
    }

    /// <summary>
    /// One round: drops cancelled sequences, prepares every other one, runs one forward for those with
    /// candidates, commits, reports each step to its sequence's callback, applies early stop.
    /// </summary>
    /// <returns>The sequences that left the batch this round: done (take <see cref="SequenceState.Result"/>),
    /// or with <see cref="SequenceState.Failure"/> set (cancelled, or their callback threw).</returns>
    /// <exception cref="Exception">What the model throws; the batch is then left as it was before the forward.</exception>
    public List<SequenceState> Step()
    {
        var left = new List<SequenceState>();
        var stepping = new List<SequenceState>();
        foreach (SequenceState s in _active)
        {
            if (s.Cancellation.IsCancellationRequested) { s.Failure = new OperationCanceledException(s.Cancellation); left.Add(s); }
            else if (s.Prepare()) stepping.Add(s);
            else left.Add(s);
        }
        List<SequenceState> participants = stepping.Where(s => s.Candidates.Length > 0).ToList();
        float[] logits = [];
        int[][] rowStarts = [];
        if (participants.Count > 0)
        {
            _started = true;
            List<SequenceState> unfinished = _active.Where(s => !s.Done && s.Failure is null).ToList();
            (logits, rowStarts) = _runner!.Run(participants, unfinished);
            Forwards++;
            Rows += _runner.LastRows;
        }
        for (int k = 0; k < stepping.Count; k++)
        {
            SequenceState s = stepping[k];
            int j = participants.IndexOf(s);
            DenoisingStep step = s.Apply(logits, j >= 0 ? rowStarts[j] : [], model.VocabSize);
            if (s.Options.EarlyStop) s.TryStopEarly(s.Options.EosId!.Value);
            try { s.OnStep?.Invoke(step); }
            catch (Exception e) { s.Failure = e; left.Add(s); }
        }
        foreach (SequenceState s in left) _active.Remove(s);
        return left;
    }
}
