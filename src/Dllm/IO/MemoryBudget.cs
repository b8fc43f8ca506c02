namespace Dllm.IO;

/// <summary>
/// A size check before a large allocation: a request that would not fit in this process's memory is
/// refused up front with a message that says how much it would take, instead of an
/// <see cref="OutOfMemoryException"/> half-way (or a machine that swaps to a halt).
/// </summary>
public static class MemoryBudget
{
    /// <summary>Bytes this process may use: the GC's view of the machine or container limit.</summary>
    public static long Available => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>Refuses <paramref name="bytes"/> for <paramref name="what"/> when they exceed 90 % of <see cref="Available"/>.</summary>
    /// <exception cref="ArgumentException">The request does not fit; the message names it, its size and the limit.</exception>
    public static void Require(double bytes, string what)
    {
        long limit = (long)(0.9 * Available);
        if (bytes > limit || double.IsNaN(bytes))
            throw new ArgumentException($"{what} would need {Format(bytes)}, more than this process can use ({Format(limit)})");
    }

    /// <summary>"12.3 GiB", "512 MiB", "4 KiB".</summary>
    public static string Format(double bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (1L << 30):F1} GiB",
        >= 1L << 20 => $"{bytes / (1L << 20):F0} MiB",
        _ => $"{bytes / 1024:F0} KiB",
    };
}
