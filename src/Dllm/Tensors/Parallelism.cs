namespace Dllm.Tensors;

/// <summary>
/// The one knob for how many cores the kernels use (the CLI's <c>--threads</c>). Defaults to the
/// machine's core count. Work is split in <see cref="For"/> with at most <see cref="Threads"/>
/// workers; with Threads = 1 it runs inline on the caller's thread.
/// </summary>
public static class Parallelism
{
    private static int _threads = Environment.ProcessorCount;

    /// <summary>Worker count, ≥ 1.</summary>
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

    /// <summary>
    /// Runs body(start, end) over contiguous ranges covering [0, count): at most <see cref="Threads"/>
    /// ranges, each of at least <paramref name="minChunk"/> items, so small work stays on the caller's
    /// thread (one call body(0, count)). count ≤ 0 does nothing.
    /// </summary>
    public static void ForRanges(int count, int minChunk, Action<int, int> body)
    {
        if (count <= 0) return;
        int parts = (int)Math.Min(_threads, count / Math.Max(1L, minChunk));
        if (parts <= 1) { body(0, count); return; }
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = _threads },
            p => body((int)((long)count * p / parts), (int)((long)count * (p + 1) / parts)));
    }

    /// <summary>Runs body(i) for i in [from, to), split across up to <see cref="Threads"/> workers.</summary>
    public static void For(int from, int to, Action<int> body)
    {
        int n = to - from;
        if (n <= 0) return;
        if (_threads == 1 || n == 1)
        {
            for (int i = from; i < to; i++) body(i);
            return;
        }
        Parallel.For(from, to, new ParallelOptions { MaxDegreeOfParallelism = _threads }, body);
    }
}
