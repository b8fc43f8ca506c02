using Dllm.Tensors;
using Xunit;

namespace Dllm.Tests.Tensors;

/// <summary>
/// The persistent worker pool behind <see cref="Parallelism.For"/>: every index exactly once over many
/// back-to-back regions (the wake/claim protocol's races), real concurrency, nested and concurrent
/// callers, exceptions, and Threads changes. Runs in <see cref="GemmCollection"/> because it sets the
/// process-wide Threads.
/// </summary>
[Collection(nameof(GemmCollection))]
public sealed class WorkerPoolTests
{
    private static void WithThreads(int threads, Action body)
    {
        int old = Parallelism.Threads;
        Parallelism.Threads = threads;
        try { body(); }
        finally { Parallelism.Threads = old; }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void EveryIndexRunsExactlyOnceOverManyRegions(int threads) => WithThreads(threads, () =>
    {
        var rng = new Random(threads);
        for (int region = 0; region < 20_000; region++)
        {
            int from = rng.Next(-3, 4), n = rng.Next(0, 9);
            var hits = new int[n];
            Parallelism.For(from, from + n, i => Interlocked.Increment(ref hits[i - from]));
            for (int i = 0; i < n; i++)
                Assert.True(hits[i] == 1, $"region {region}: index {from + i} ran {hits[i]} times");
        }
    });

    [Fact]
    public void TwoThreadsRunIndicesConcurrently() => WithThreads(2, () =>
    {
        // Each index waits for the other: this completes only if two threads run the region at once.
        using var barrier = new Barrier(2);
        bool[] met = new bool[2];
        Parallelism.For(0, 2, i => met[i] = barrier.SignalAndWait(TimeSpan.FromSeconds(20)));
        Assert.Equal([true, true], met);
        Assert.Equal(1, Parallelism.PoolWorkers);
    });

    [Fact]
    public void NestedRegionsRunInlineAndComplete() => WithThreads(2, () =>
    {
        long sum = 0;
        Parallelism.For(0, 4, i => Parallelism.For(0, 100, j => Interlocked.Add(ref sum, i * 100 + j)));
        Assert.Equal(Enumerable.Range(0, 400).Sum(x => (long)x), sum);
    });

    [Fact]
    public void ConcurrentCallersBothGetCorrectResults() => WithThreads(2, () =>
    {
        // A second owner finds the pool busy and runs its region inline.
        var errors = new List<string>();
        var callers = Enumerable.Range(0, 3).Select(c => new Thread(() =>
        {
            for (int r = 0; r < 2_000; r++)
            {
                var hits = new int[7];
                Parallelism.For(0, 7, i => Interlocked.Increment(ref hits[i]));
                if (hits.Any(h => h != 1)) lock (errors) errors.Add($"caller {c} region {r}: {string.Join(",", hits)}");
            }
        })).ToList();
        callers.ForEach(t => t.Start());
        callers.ForEach(t => t.Join());
        Assert.Empty(errors);
    });

    [Fact]
    public void TheLowestFailingIndexIsRethrownUnwrappedAfterAllOthersRan() => WithThreads(2, () =>
    {
        var ran = new int[10];
        var e = Assert.Throws<InvalidOperationException>(() => Parallelism.For(0, 10, i =>
        {
            Interlocked.Increment(ref ran[i]);
            if (i is 3 or 7) throw new InvalidOperationException($"index {i}");
        }));
        Assert.Equal("index 3", e.Message);
        Assert.All(ran, r => Assert.Equal(1, r));
        // The pool still works afterwards.
        int count = 0;
        Parallelism.For(0, 50, _ => Interlocked.Increment(ref count));
        Assert.Equal(50, count);
    });

    [Fact]
    public void ChangingThreadsRebuildsThePool()
    {
        foreach (int threads in new[] { 3, 2, 4, 2 })
            WithThreads(threads, () =>
            {
                var seen = new HashSet<int>();
                Parallelism.For(0, 64, _ => { lock (seen) seen.Add(Environment.CurrentManagedThreadId); Thread.SpinWait(2000); });
                Assert.Equal(threads - 1, Parallelism.PoolWorkers);
                Assert.InRange(seen.Count, 1, threads);
            });
    }
}
