using System.Diagnostics;
using Dllm.Model;

namespace Dllm.Bench;

/// <summary>
/// A model that forwards every call to another and adds up the wall-clock time spent inside it, so a bench can
/// split a generate into the model's forwards and everything around them (the sampler's scores, selection and
/// bookkeeping, packing canvases). Every member is forwarded explicitly, so the wrapped model's own
/// <c>LogitsAt</c> and cache calls run, not the interface defaults.
/// </summary>
internal sealed class TimedModel(Transformer inner) : ICachingDenoisingModel
{
    /// <summary>Wall-clock seconds spent inside the wrapped model so far.</summary>
    public double Seconds { get; private set; }

    /// <summary>Model calls so far.</summary>
    public int Calls { get; private set; }

    public int VocabSize => inner.VocabSize;
    public int MaxSequenceLength => inner.MaxSequenceLength;
    public int DiffusionBlockSize => inner.DiffusionBlockSize;

    public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        long t = Stopwatch.GetTimestamp();
        inner.Logits(tokens, batch, length, positions, logits, keyMask);
        Add(t);
    }

    public void LogitsAt(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> rows, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        long t = Stopwatch.GetTimestamp();
        inner.LogitsAt(tokens, batch, length, rows, logits, keyMask);
        Add(t);
    }

    public void Refresh(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits,
        ReadOnlySpan<byte> keyMask = default, bool reusePrefix = false)
    {
        long t = Stopwatch.GetTimestamp();
        inner.Refresh(tokens, batch, length, positions, logits, keyMask, reusePrefix);
        Add(t);
    }

    public void LogitsInWindow(ReadOnlySpan<int> tokens, int batch, int length, int start, int end, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        long t = Stopwatch.GetTimestamp();
        inner.LogitsInWindow(tokens, batch, length, start, end, positions, logits, keyMask);
        Add(t);
    }

    private void Add(long start)
    {
        Seconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
        Calls++;
    }
}
