using System.Diagnostics;
using Dllm.Model;

namespace Dllm.Sampling;

/// <summary>
/// Step-level continuous batching: requests from any number of threads are decoded together, ONE model
/// forward per denoising round over every active canvas (<see cref="DenoisingBatch"/>, the same loop
/// <see cref="DiffusionSampler"/> runs). A request joins at the next round and leaves as soon as its
/// answer is final; each keeps its own knobs, seed and step callback; a cancelled request leaves before
/// the next forward (its row stops costing at once). Waiting requests are admitted in arrival order.
/// </summary>
/// <remarks>
/// <para>Bounds (<see cref="BatchLimits"/>): at most <c>MaxRows</c> canvases per forward and, when several
/// would share it, at most <c>MaxTokens</c> padded tokens (rows × longest canvas); a single request
/// always runs, however long.</para>
/// <para>Exactness: without a cache each request gets the tokens it gets alone (greedy or seeded), since
/// rows do not see each other (key mask, shift-invariant positions). Requests with a KV cache
/// (prefix/dual) or a different CFG scale do not join a running batch: they wait until it has drained and
/// then start together with the waiting requests of the same settings (a cohort: equal to alone when they
/// move in lockstep, same steps and block length; otherwise a block start of one refreshes all, see
/// <see cref="ModelRunner"/>). A late joiner would force a refresh that changes the others' answers.</para>
/// <para>One driver task runs the rounds while there is work and ends when there is none (no thread when
/// idle). The model must not be used by anyone else meanwhile (its forward is not thread-safe).</para>
/// </remarks>
public sealed class ContinuousBatcher
{
    private readonly DiffusionSampler _sampler;
    private readonly DenoisingBatch _batch;
    private readonly BatchLimits _limits;
    private readonly object _gate = new();
    private readonly LinkedList<Job> _pending = [];
    private readonly Dictionary<SequenceState, Job> _jobs = [];
    private bool _driving;
    private long _forwards, _rows, _forwardTicks;
    private int _activeRows;

    /// <param name="model">The mask predictor (used by this batcher alone).</param>
    /// <param name="maskId">The mask id.</param>
    /// <param name="padId">The id left padding holds (hidden by the key mask).</param>
    /// <param name="limits">Rows and tokens per forward; null = <see cref="BatchLimits"/>' defaults.</param>
    /// <exception cref="ArgumentOutOfRangeException">A mask or pad id outside the vocabulary, or limits below 1.</exception>
    public ContinuousBatcher(IDenoisingModel model, int maskId, int padId, BatchLimits? limits = null)
    {
        _sampler = new DiffusionSampler(model, maskId);
        if ((uint)padId >= (uint)model.VocabSize) throw new ArgumentOutOfRangeException(nameof(padId), padId, $"pad id outside the vocabulary [0, {model.VocabSize})");
        _limits = limits ?? new BatchLimits();
        _limits.Validate();
        _batch = new DenoisingBatch(model, maskId, padId);
    }

    /// <summary>The bounds on one forward.</summary>
    public BatchLimits Limits => _limits;

    /// <summary>Model calls made so far.</summary>
    public long Forwards => Interlocked.Read(ref _forwards);
    /// <summary>Rows those calls carried in all (rows per forward = <see cref="ForwardRows"/> / <see cref="Forwards"/>).</summary>
    public long ForwardRows => Interlocked.Read(ref _rows);
    /// <summary>Seconds spent in rounds that ran a forward.</summary>
    public double ForwardSeconds => Interlocked.Read(ref _forwardTicks) / (double)TimeSpan.TicksPerSecond;
    /// <summary>Requests decoding now.</summary>
    public int ActiveRows => Volatile.Read(ref _activeRows);
    /// <summary>Requests waiting to join.</summary>
    public int Waiting { get { lock (_gate) return _pending.Count; } }

    /// <summary>Decodes <c>GenLength</c> tokens after <paramref name="prompt"/> (as <see cref="DiffusionSampler.Generate"/>), batched with the other requests.</summary>
    /// <exception cref="DecodingOptionException">Invalid options, CFG with an empty prompt, prompt + GenLength too long (thrown at once).</exception>
    /// <exception cref="NotSupportedException">A cache mode with a model that cannot cache (in the task).</exception>
    /// <exception cref="OperationCanceledException">Cancelled, waiting or decoding (in the task).</exception>
    public Task<GenerationResult> GenerateAsync(IReadOnlyList<int> prompt, DecodingOptions options,
        Action<DenoisingStep>? onStep = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        return Submit(_sampler.Start(prompt, options, 0, options.Seed, onStep, cancellationToken));
    }

    /// <summary>Infilling (as <see cref="DiffusionSampler.Fill"/>), batched with the other requests.</summary>
    /// <exception cref="DecodingOptionException">As <see cref="DiffusionSampler.Fill"/> (thrown at once).</exception>
    /// <exception cref="ArgumentException">As <see cref="DiffusionSampler.Fill"/> (thrown at once).</exception>
    public Task<GenerationResult> FillAsync(InfillCanvas canvas, DecodingOptions options,
        Action<DenoisingStep>? onStep = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        return Submit(_sampler.StartFill(canvas, options, onStep, cancellationToken));
    }

    private Task<GenerationResult> Submit(SequenceState state)
    {
        var job = new Job(state);
        if (state.Cancellation.IsCancellationRequested) return Task.FromCanceled<GenerationResult>(state.Cancellation);
        lock (_gate)
        {
            job.Node = _pending.AddLast(job);
            if (!_driving)
            {
                _driving = true;
                Task.Factory.StartNew(Drive, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }
        }
        // A waiting request that is cancelled leaves the queue at once (an active one before the next forward).
        job.Registration = state.Cancellation.Register(() =>
        {
            lock (_gate)
            {
                if (job.Node?.List is null) return;
                _pending.Remove(job.Node);
                job.Node = null;
            }
            job.Finish(null, new OperationCanceledException(state.Cancellation));
        });
        return job.Completion.Task;
    }

    /// <summary>The driver: admit, step, deliver, until nothing is active or waiting.</summary>
    private void Drive()
    {
        while (true)
        {
            lock (_gate)
            {
                Admit();
                Volatile.Write(ref _activeRows, _batch.Active.Count);
                if (_batch.Active.Count == 0) { _driving = false; return; }
            }
            long forwardsBefore = _batch.Forwards, rowsBefore = _batch.Rows;
            var clock = Stopwatch.StartNew();
            List<SequenceState> left;
            try { left = _batch.Step(); }
            catch (Exception e)
            {
                // The model failed: every active request gets the error (the next ones start afresh).
                left = [.. _batch.Active];
                foreach (SequenceState s in left) s.Failure = e;
                _batch.Clear();
            }
            if (_batch.Forwards > forwardsBefore)
            {
                Interlocked.Add(ref _forwardTicks, clock.Elapsed.Ticks);
                Interlocked.Add(ref _forwards, _batch.Forwards - forwardsBefore);
                Interlocked.Add(ref _rows, _batch.Rows - rowsBefore);
            }
            foreach (SequenceState s in left)
            {
                Job job;
                lock (_gate) { job = _jobs[s]; _jobs.Remove(s); }
                job.Finish(s.Failure is null ? s.Result() : null, s.Failure);
            }
        }
    }

    /// <summary>Moves waiting requests into the batch, in arrival order, while the bounds allow (under the gate).</summary>
    private void Admit()
    {
        while (_pending.First is { } node)
        {
            Job job = node.Value;
            SequenceState s = job.State;
            int rows = _batch.Active.Count;
            if (rows > 0)
            {
                if (rows >= _limits.MaxRows || !_batch.Accepts(s)) return;
                int longest = Math.Max(s.Length, _batch.Active.Max(a => a.Length));
                if ((long)(rows + 1) * longest > _limits.MaxTokens) return;
            }
            _pending.RemoveFirst();
            job.Node = null;
            try { _batch.Join(s); }
            catch (Exception e) // a cache mode the model cannot serve: this request alone fails
            {
                job.Finish(null, e);
                continue;
            }
            _jobs[s] = job;
        }
    }

    private sealed class Job(SequenceState state)
    {
        public SequenceState State { get; } = state;
        public TaskCompletionSource<GenerationResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public LinkedListNode<Job>? Node;
        public CancellationTokenRegistration Registration;

        public void Finish(GenerationResult? result, Exception? failure)
        {
            Registration.Dispose();
            if (failure is OperationCanceledException oce) Completion.TrySetCanceled(oce.CancellationToken);
            else if (failure is not null) Completion.TrySetException(failure);
            else Completion.TrySetResult(result!);
        }
    }
}

/// <summary>Bounds on one batched forward (<see cref="ContinuousBatcher"/>): they keep each round's latency in check.</summary>
public sealed record BatchLimits
{
    /// <summary>Most canvases in one forward (1 = one request at a time). ≥ 1.</summary>
    public int MaxRows { get; init; } = 8;

    /// <summary>Most padded tokens (rows × longest canvas) in one forward shared by several requests; a single
    /// request may exceed it. ≥ 1.</summary>
    public int MaxTokens { get; init; } = 16384;

    /// <exception cref="ArgumentOutOfRangeException">A bound below 1.</exception>
    public void Validate()
    {
        if (MaxRows < 1) throw new ArgumentOutOfRangeException(nameof(MaxRows), MaxRows, "batch rows must be ≥ 1");
        if (MaxTokens < 1) throw new ArgumentOutOfRangeException(nameof(MaxTokens), MaxTokens, "batch tokens must be ≥ 1");
    }
}
