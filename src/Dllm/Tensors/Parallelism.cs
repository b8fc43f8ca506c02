namespace Dllm.Tensors;

/// <summary>
/// The one knob for how many cores the kernels use (the CLI's <c>--threads</c>). Defaults to the
/// machine's core count. Work is split in <see cref="For"/> over at most <see cref="Threads"/> threads:
/// the caller plus Threads − 1 persistent <see cref="WorkerPool"/> workers, created on the first parallel
/// region and re-created when Threads changes. With Threads = 1 everything runs inline on the caller.
/// <para>Edge cases: a region started inside another one (a body that calls <see cref="For"/>), on a pool
/// worker, or by a second thread while the pool is busy with another caller's region runs inline on its
/// calling thread — same results, since every kernel splits its work into indices whose results do not
/// depend on the thread that runs them. An exception thrown by a body is rethrown on the caller unwrapped
/// (the one of the lowest failing index), after every other index has run.</para>
/// </summary>
public static class Parallelism
{
    private static int _threads = Environment.ProcessorCount;
    private static readonly object s_ownerLock = new();
    private static WorkerPool? s_pool;
    /// <summary>True on a thread that is running a region's body (as owner): nested regions run inline.</summary>
    [ThreadStatic] private static bool t_inRegion;

    /// <summary>Worker count, ≥ 1. Changing it takes effect at the next parallel region (the pool is then
    /// rebuilt with Threads − 1 workers; the old workers exit).</summary>
    public static int Threads
    {
        get => _threads;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), value, "threads must be at least 1");
            _threads = value;
        }
    }

    /// <summary>Elements of elementwise work below which a range is not worth handing to another
    /// worker (waking one costs a few microseconds, about what ~16K elements of a norm take).</summary>
    public const int MinElementsPerWorker = 16_384;

    /// <summary>Worker threads the pool has now (0 before the first parallel region); for tests.</summary>
    internal static int PoolWorkers { get { lock (s_ownerLock) return s_pool?.Workers ?? 0; } }

    /// <summary>
    /// Runs body(start, end) over contiguous ranges covering [0, count): at most <see cref="Threads"/>
    /// ranges, each of at least <paramref name="minChunk"/> items, so small work stays on the caller's
    /// thread (one call body(0, count)). The ranges depend only on count, minChunk and Threads. count ≤ 0 does nothing.
    /// </summary>
    public static void ForRanges(int count, int minChunk, Action<int, int> body)
    {
        if (count <= 0) return;
        int parts = (int)Math.Min(_threads, count / Math.Max(1L, minChunk));
        if (parts <= 1) { body(0, count); return; }
        For(0, parts, p => body((int)((long)count * p / parts), (int)((long)count * (p + 1) / parts)));
    }

    /// <summary>Runs body(i) for i in [from, to), each index exactly once, split across up to
    /// <see cref="Threads"/> threads (indices are claimed one at a time, so a descheduled thread does not
    /// hold up the others). from ≥ to does nothing.</summary>
    public static void For(int from, int to, Action<int> body)
    {
        int n = to - from;
        if (n <= 0) return;
        int threads = _threads;
        if (threads == 1 || n == 1 || t_inRegion || WorkerPool.t_isWorker || !Monitor.TryEnter(s_ownerLock))
        {
            for (int i = from; i < to; i++) body(i);
            return;
        }
        try
        {
            if (s_pool is null || s_pool.Workers != threads - 1)
            {
                s_pool?.Dispose();
                s_pool = null;
                s_pool = new WorkerPool(threads - 1);
            }
            t_inRegion = true;
            s_pool.Run(from, to, body);
        }
        finally
        {
            t_inRegion = false;
            Monitor.Exit(s_ownerLock);
        }
    }
}
