using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Dllm.Tensors;

/// <summary>
/// A fixed set of background worker threads, created once and reused by every parallel region
/// (<see cref="Parallelism.For"/>), so a forward's hundreds of GEMM, attention and norm regions do not
/// each pay <c>Parallel.For</c>'s task scheduling. The calling thread ("owner") takes part in its
/// own region.
/// <para>
/// Protocol: the owner publishes a fresh region object (body, range, its own claim and done counters)
/// and bumps a generation counter. Workers watch the generation (spinning ~<see cref="SpinMicroseconds"/> µs,
/// then blocking on a monitor), take the current region and claim its indices one at a time with an
/// atomic increment; a worker that wakes late holding an older region finds every index claimed, so it
/// can never run a stale body or touch a later region. The owner claims indices the same way and then
/// waits (spin, then block) until every index has finished; it never waits for a worker that claimed
/// nothing (one descheduled by another process costs nothing). The cost per region is one small allocation.
/// </para>
/// <para>
/// Determinism: each index runs exactly once and callers make body(i) depend on i only, so which thread
/// runs it does not change results (the kernels' bit-identical-across-thread-counts guarantee rests on
/// their own deterministic split into indices, not on this scheduling).
/// </para>
/// <para>Exceptions: every index still runs; afterwards the exception of the lowest failing index is
/// rethrown on the owner with its original stack trace (not wrapped in an AggregateException).</para>
/// <para>Not reentrant by itself: <see cref="Parallelism"/> runs nested regions and regions started while
/// the pool is busy inline on the calling thread.</para>
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    /// <summary>How long an idle worker (and a waiting owner) spins before blocking: long enough to bridge
    /// the gap between a forward's consecutive regions (a norm or RoPE between two GEMMs), short enough not
    /// to steal a shared core for long (blocking and waking costs ~5–50 µs on Linux).</summary>
    internal const int SpinMicroseconds = 50;

    private readonly Thread[] _threads;
    private readonly object _sleepLock = new();
    private int _sleepers;
    private volatile bool _stopping;
    /// <summary>The current region; replaced (never mutated back) by each <see cref="Run"/>, so a worker
    /// that wakes late and still holds an older region only finds its indices all claimed.</summary>
    private volatile Region? _region;
    private long _generation;

    /// <summary>One parallel region: its own claim and completion counters.</summary>
    private sealed class Region(Action<int> body, int from, int count)
    {
        public readonly Action<int> Body = body;
        public readonly int From = from, Count = count;
        public int Next, Done;
        public int ErrorIndex = int.MaxValue;
        public Exception? Error;
    }

    /// <summary>Starts <paramref name="workers"/> ≥ 1 background threads.</summary>
    public WorkerPool(int workers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        _threads = new Thread[workers];
        for (int w = 0; w < workers; w++)
        {
            _threads[w] = new Thread(WorkerLoop) { IsBackground = true, Name = $"Dllm worker {w + 1}" };
            _threads[w].Start();
        }
    }

    /// <summary>Worker threads (not counting the owner).</summary>
    public int Workers => _threads.Length;

    /// <summary>True on any pool's worker threads: a region started there runs inline.</summary>
    [ThreadStatic] internal static bool t_isWorker;

    /// <summary>Runs body(i) for i in [from, to) on the workers and the calling thread; returns when all
    /// have finished. One region at a time: the caller (<see cref="Parallelism"/>) serialises owners.</summary>
    public void Run(int from, int to, Action<int> body)
    {
        int n = to - from;
        if (n <= 0) return;
        ObjectDisposedException.ThrowIf(_stopping, this);
        var region = new Region(body, from, n);
        _region = region;
        Interlocked.Increment(ref _generation); // full fence: the region is visible before the generation moves
        if (Volatile.Read(ref _sleepers) > 0)
            lock (_sleepLock) Monitor.PulseAll(_sleepLock);

        Participate(region);
        if (Volatile.Read(ref region.Done) < n) WaitDone(region);
        if (region.Error is { } e) ExceptionDispatchInfo.Throw(e);
    }

    private static void WaitDone(Region r)
    {
        long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
        while (Volatile.Read(ref r.Done) < r.Count)
        {
            if (Stopwatch.GetTimestamp() > until)
            {
                lock (r)
                    while (Volatile.Read(ref r.Done) < r.Count) Monitor.Wait(r);
                return;
            }
            Thread.SpinWait(20);
        }
    }

    /// <summary>Claims and runs indices of <paramref name="r"/> until none is left.</summary>
    private static void Participate(Region r)
    {
        int claimed;
        while ((claimed = Interlocked.Increment(ref r.Next) - 1) < r.Count)
        {
            int i = r.From + claimed;
            try { r.Body(i); }
            catch (Exception e)
            {
                lock (r)
                    if (i < r.ErrorIndex) { r.ErrorIndex = i; r.Error = e; }
            }
            if (Interlocked.Increment(ref r.Done) == r.Count)
                lock (r) Monitor.PulseAll(r);
        }
    }

    private void WorkerLoop()
    {
        t_isWorker = true;
        long seen = 0;
        while (true)
        {
            seen = WaitForGeneration(seen);
            if (_stopping) return;
            if (_region is { } r) Participate(r);
        }
    }

    private long WaitForGeneration(long seen)
    {
        long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
        long gen;
        while ((gen = Volatile.Read(ref _generation)) == seen && !_stopping)
        {
            if (Stopwatch.GetTimestamp() > until)
            {
                lock (_sleepLock)
                {
                    // Interlocked (a full fence) so that either the owner sees this sleeper and pulses, or this
                    // thread sees the owner's new generation (the owner's increment is a full fence too).
                    Interlocked.Increment(ref _sleepers);
                    while ((gen = Volatile.Read(ref _generation)) == seen && !_stopping) Monitor.Wait(_sleepLock);
                    Interlocked.Decrement(ref _sleepers);
                }
                return gen;
            }
            Thread.SpinWait(20);
        }
        return gen;
    }

    /// <summary>Stops the workers (they exit after any index they are running). Idempotent; call only
    /// when no region is running.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        lock (_sleepLock) Monitor.PulseAll(_sleepLock);
        foreach (var t in _threads) t.Join();
    }
}
