namespace Dllm.Cli.Serving;

/// <summary>
/// Admission control in front of the engine: up to <c>rows</c> requests decode together (the engine's
/// step-level batch, <see cref="Dllm.Sampling.ContinuousBatcher"/>), at most <c>capacity</c> more wait for a
/// row (in arrival order, inside the batcher), and a request arriving when all places are taken is refused at
/// once (429 queue_full + Retry-After) instead of piling up memory and latency. A waiter whose client
/// disconnects leaves the queue.
/// </summary>
internal sealed class GenerationQueue(int capacity, int rows)
{
    private int _admitted; // decoding + waiting

    /// <summary>Requests admitted and not finished (decoding + waiting).</summary>
    public int Admitted => Volatile.Read(ref _admitted);

    /// <summary>Requests refused because the queue was full, since start.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);
    private long _rejected;

    /// <summary>Takes a place; dispose the lease to free it.</summary>
    /// <exception cref="ApiError">429 when <c>rows</c> requests decode and <c>capacity</c> already wait.</exception>
    public IDisposable Enter()
    {
        int now = Interlocked.Increment(ref _admitted);
        if (now > capacity + rows)
        {
            Interlocked.Decrement(ref _admitted);
            Interlocked.Increment(ref _rejected);
            throw ApiError.QueueFull(rows, capacity);
        }
        return new Lease(this);
    }

    private sealed class Lease(GenerationQueue queue) : IDisposable
    {
        private int _disposed;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            Interlocked.Decrement(ref queue._admitted);
        }
    }
}
