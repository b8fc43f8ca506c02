namespace Dllm.Model;

/// <summary>
/// A <see cref="Transformer"/>'s keys and values between calls: per layer, post-RoPE K and V of every row,
/// [batch·length × kvHeads·hd] each, as the last refresh or window stored them. For a single block diffusion
/// canvas it also remembers which tokens its leading rows were computed from, so a later canvas that starts the
/// same way (a chat's history, a server's shared system prompt) reuses them: under block-causal attention a row's
/// keys and values depend only on the tokens up to the end of its block, so the reuse is exact.
/// </summary>
internal sealed class KvCache
{
    public float[][] K = [], V = [];
    public int Batch, Length;
    /// <summary>Rows served from earlier canvases instead of recomputed (a counter for tests and metrics).</summary>
    public long ReusedRows;

    // Rows [0, _rows) hold keys and values computed from exactly _tokens[0.._rows) (one sequence only).
    private int[] _tokens = [];
    private int _rows;

    /// <summary>Sizes every layer for <paramref name="size"/> floats, keeping the first <paramref name="keep"/> of
    /// each (a reused prefix). With <paramref name="zeroRest"/> the rest is zeroed: a window's hidden rows weigh 0 in
    /// attention, but 0 × an uninitialised NaN is NaN. A refresh, which writes every row, passes false.</summary>
    public void Ensure(int layers, long size, long keep, bool zeroRest)
    {
        if (K.Length != layers) { K = new float[layers][]; V = new float[layers][]; for (int l = 0; l < layers; l++) { K[l] = []; V[l] = []; } keep = 0; }
        for (int l = 0; l < layers; l++) { Resize(ref K[l], size, keep, zeroRest); Resize(ref V[l], size, keep, zeroRest); }
    }

    private static void Resize(ref float[] a, long size, long keep, bool zeroRest)
    {
        if (size > Array.MaxLength) throw new InvalidOperationException($"KV cache of {size} floats is too large for one array");
        int kept = (int)Math.Min(keep, size);
        if (a.Length < size)
        {
            var grown = GC.AllocateUninitializedArray<float>((int)size);
            a.AsSpan(0, Math.Min(kept, a.Length)).CopyTo(grown);
            a = grown;
        }
        if (zeroRest) a.AsSpan(kept, (int)size - kept).Clear();
    }

    /// <summary>
    /// How many leading rows of <paramref name="tokens"/> (a whole number of blocks of <paramref name="grid"/>, at most
    /// <paramref name="limit"/>) the cache already holds exactly.
    /// </summary>
    public int ReusablePrefix(ReadOnlySpan<int> tokens, int limit, int grid)
    {
        int n = Math.Min(Math.Min(_rows, limit), tokens.Length);
        int same = tokens[..n].CommonPrefixLength(_tokens.AsSpan(0, n));
        return same / grid * grid;
    }

    /// <summary>After a single-canvas window [from, end) was computed and stored: rows [0, end) now match
    /// tokens[0..end) if the rows before the window did (the caller's tokens there are unchanged).</summary>
    public void Record(ReadOnlySpan<int> tokens, int from, int end)
    {
        bool before = _rows >= from && tokens[..from].SequenceEqual(_tokens.AsSpan(0, from));
        if (!before) { _rows = 0; return; }
        if (_tokens.Length < end) Array.Resize(ref _tokens, Math.Max(end, 2 * _tokens.Length));
        tokens[from..end].CopyTo(_tokens.AsSpan(from));
        _rows = end;
    }

    /// <summary>Forgets which tokens the rows came from (a batch, or a refresh of a bidirectional model).</summary>
    public void Forget() => _rows = 0;
}
