namespace Dllm.Cli.Serving;

/// <summary>
/// Admission control in front of the engine: one generation runs at a time (the model is not
/// thread-safe and already uses every core), at most <c>capacity</c> requests wait for it, and a request
/// arriving when all waiting places are taken is refused at once (429 queue_full + Retry-After) instead
/// of piling up memory and latency. Waiters are served in arrival order (SemaphoreSlim is not strictly
/// FIFO, but close). A waiter whose client disconnects leaves the queue.
/// </summary>
internal sealed class GenerationQueue(int capacity)
{
    private readonly SemaphoreSlim _slot = new(1, 1);
    private int _admitted; // running + waiting

    /// <summary>Requests admitted and not finished (running + waiting).</summary>
    public int Admitted => Volatile.Read(ref _admitted);

    /// <summary>Requests refused because the queue was full, since start.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);
    private long _rejected;

    /// <summary>Waits for the generation slot; dispose the lease to free it.</summary>
    /// <exception cref="ApiError">429 when <c>capacity</c> requests already wait.</exception>
    /// <exception cref="OperationCanceledException">The request was cancelled while waiting.</exception>
    public async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        int now = Interlocked.Increment(ref _admitted);
        if (now > capacity + 1)
        {
            Interlocked.Decrement(ref _admitted);
            Interlocked.Increment(ref _rejected);
            throw ApiError.QueueFull(1, capacity);
        }
        try { await _slot.WaitAsync(cancellationToken); }
        catch
        {
            Interlocked.Decrement(ref _admitted);
            throw;
        }
        return new Lease(this);
    }

    private sealed class Lease(GenerationQueue queue) : IDisposable
    {
        private int _disposed;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            queue._slot.Release();
            Interlocked.Decrement(ref queue._admitted);
        }
    }
}
