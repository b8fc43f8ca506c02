using Dllm.Model;

namespace Dllm.Tests.Sampling;

/// <summary>One recorded model call.</summary>
internal sealed record ModelCall(string Kind, int Batch, int Length, int[] Positions, int Start, int End, int[] Tokens, byte[] KeyMask);

/// <summary>
/// A fake mask predictor whose logits the test controls. For each batch row it builds the row's
/// "view": the tokens whose key mask is 1 (left padding dropped), so positions are relative to the
/// first real token; then <see cref="Row"/> fills the logits of one position from that view. The
/// model is therefore shift invariant and honours the key mask, like RoPE attention with a mask.
/// As a caching model it is a real (tiny) approximation: once the canvas has changed since the last
/// Refresh, LogitsInWindow rows carry a stale term computed from the refresh-time canvas, so a stale
/// cache changes the logits and tests can tell a refresh from a window call.
/// Records every call.
/// </summary>
internal class FakeModel(int vocab, Action<int[], int, Span<float>> row, int maxLength = 4096) : ICachingDenoisingModel
{
    private int[]? _cachedTokens;
    private int _cachedBatch, _cachedLength;

    public int VocabSize => vocab;
    public int MaxSequenceLength => maxLength;
    public List<ModelCall> Calls { get; } = [];

    /// <summary>Fills logits for position <c>pos</c> (relative to the view) of the view.</summary>
    public Action<int[], int, Span<float>> Row => row;

    public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        Record("logits", tokens, batch, length, positions, 0, length, keyMask);
        Compute(tokens.ToArray(), batch, length, positions, logits, keyMask);
    }

    public void Refresh(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default, bool reusePrefix = false)
    {
        Record("refresh", tokens, batch, length, positions, 0, length, keyMask);
        _cachedTokens = tokens.ToArray();
        _cachedBatch = batch;
        _cachedLength = length;
        Compute(tokens.ToArray(), batch, length, positions, logits, keyMask);
    }

    public void LogitsInWindow(ReadOnlySpan<int> tokens, int batch, int length, int start, int end, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        Record("window", tokens, batch, length, positions, start, end, keyMask);
        if (_cachedTokens is null || batch != _cachedBatch || length != _cachedLength)
            throw new InvalidOperationException("no refresh yet, or the batch/length changed since");
        foreach (int p in positions)
            if (p < start || p >= end) throw new ArgumentException($"position {p} outside the window [{start}, {end})");
        // Cached rows were computed from the canvas of the last refresh (in a deep model, every cached
        // row has attended to the window's old tokens). Model that: once the canvas has changed since the
        // refresh, each window row gets the refresh-time row added, a stale term that vanishes only when
        // nothing changed.
        var current = new float[logits.Length];
        Compute(tokens.ToArray(), batch, length, positions, current, keyMask);
        var stale = new float[logits.Length];
        Compute(_cachedTokens, batch, length, positions, stale, keyMask);
        int per = positions.Length * vocab;
        for (int b = 0; b < batch; b++)
        {
            bool changed = !tokens.Slice(b * length, length).SequenceEqual(_cachedTokens.AsSpan(b * length, length));
            for (int i = b * per; i < (b + 1) * per; i++) logits[i] = changed ? current[i] + stale[i] : current[i];
        }
    }

    private void Record(string kind, ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, int start, int end, ReadOnlySpan<byte> keyMask)
    {
        if (tokens.Length != batch * length) throw new ArgumentException($"tokens {tokens.Length} != {batch}x{length}");
        if (length > maxLength) throw new ArgumentException("too long");
        foreach (int t in tokens) if ((uint)t >= (uint)vocab) throw new ArgumentException($"token {t} outside vocabulary");
        if (!keyMask.IsEmpty && keyMask.Length != batch * length) throw new ArgumentException("key mask size");
        Calls.Add(new ModelCall(kind, batch, length, positions.ToArray(), start, end, tokens.ToArray(), keyMask.ToArray()));
    }

    private void Compute(int[] tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask)
    {
        if (logits.Length < batch * positions.Length * vocab) throw new ArgumentException("logits too small");
        for (int b = 0; b < batch; b++)
        {
            int first = 0;
            if (!keyMask.IsEmpty) while (first < length && keyMask[b * length + first] == 0) first++;
            int[] view = tokens.AsSpan(b * length + first, length - first).ToArray();
            for (int i = 0; i < positions.Length; i++)
            {
                Span<float> r = logits.Slice((b * positions.Length + i) * vocab, vocab);
                r.Clear();
                row(view, positions[i] - first, r);
            }
        }
    }
}

/// <summary>A model that is only an <see cref="IDenoisingModel"/> (no cache).</summary>
internal sealed class PlainModel(FakeModel inner) : IDenoisingModel
{
    public int VocabSize => inner.VocabSize;
    public int MaxSequenceLength => inner.MaxSequenceLength;
    public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
        => inner.Logits(tokens, batch, length, positions, logits, keyMask);
}

internal static class Rows
{
    /// <summary>Logits where <paramref name="token"/> has softmax probability <paramref name="p"/> and the rest share 1 − p.</summary>
    public static void WithProbability(Span<float> row, int token, double p)
    {
        row.Clear();
        int v = row.Length;
        row[token] = (float)Math.Log(p * (v - 1) / (1 - p));
    }

    /// <summary>
    /// Deterministic pseudo-random logits in [−3, 3) depending on the whole view and the position:
    /// every committed token changes every row (a bidirectional model in miniature). The last id is
    /// the mask in these tests and gets −1e4, as a real model never predicts the mask.
    /// </summary>
    public static void Hashed(int[] view, int pos, Span<float> row)
    {
        ulong h = 1469598103934665603UL ^ (ulong)pos;
        foreach (int t in view) h = (h ^ (ulong)t) * 1099511628211UL;
        h = (h ^ (ulong)pos) * 1099511628211UL;
        for (int i = 0; i < row.Length; i++)
        {
            h ^= h >> 33; h *= 0xff51afd7ed558ccdUL; h ^= h >> 29;
            row[i] = (float)((h >> 11) * (1.0 / (1UL << 53)) * 6 - 3);
        }
        row[^1] = -1e4f;
    }
}
