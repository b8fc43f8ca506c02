using Dllm.Model;

namespace Dllm.Sampling;

/// <summary>
/// Runs the model for one denoising round of a batch: packs the participating canvases (left-padded,
/// with a key mask when any has padding), doubles the batch for classifier-free guidance, and picks
/// the call the cache mode asks for — Logits, Refresh or LogitsInWindow — keeping the cached batch
/// fixed between refreshes as the cache contract requires.
/// </summary>
/// <remarks>
/// Block diffusion models (<see cref="IDenoisingModel.DiffusionBlockSize"/> &gt; 0): without a cache the canvas
/// is cut after the grid block that holds the last participant's block (nothing after it is seen); with any
/// cache mode the cache is exact (window [rows known final, that block end), stored; never a refresh).
/// Cache policy for bidirectional models (Fast-dLLM, Wu et al. 2025, §3.2): refresh when any participant begins a block, when
/// any participant has taken <c>RefreshInterval</c> steps since the last refresh (N &gt; 0), or when a
/// participant is not in the cached batch. A refresh caches every unfinished sequence (so sequences
/// without candidates this round stay in the cached batch). The window is [min block start, canvas end)
/// for a prefix cache and [min block start, max block end) for a dual cache over the participants, widened
/// to cover any candidate outside it (only masks in a prompt can be). Sequences that finish ride along
/// in the cached batch until the next refresh; their rows are ignored and not counted.
/// In a batch whose sequences reach block starts at different rounds (variable-step policies), a
/// refresh for one refreshes all, so cached results can differ from running each alone; with a fixed
/// schedule the sequences move in lockstep and the equality holds.
/// </remarks>
internal sealed class ModelRunner
{
    private readonly IDenoisingModel _model;
    private readonly ICachingDenoisingModel? _caching;
    private readonly CacheMode _mode;
    private readonly int _refreshInterval, _maskId, _padId;
    private readonly bool _cfg, _reusePrefix;
    private readonly double _cfgScale;
    private readonly int _grid;
    private List<SequenceState>? _cached;
    private int _final; // block diffusion cache: rows [0, _final) hold final keys and values
    private float[] _logits = [];

    /// <param name="model">The mask predictor.</param>
    /// <param name="options">The forward settings: cache mode, refresh interval, CFG scale.</param>
    /// <param name="maskId">The mask id (the unconditional CFG copy masks the condition with it).</param>
    /// <param name="padId">The token left padding holds (hidden by the key mask; any id in the vocabulary).</param>
    public ModelRunner(IDenoisingModel model, DecodingOptions options, int maskId, int padId)
    {
        _padId = padId;
        _model = model;
        _mode = options.Cache;
        _refreshInterval = options.RefreshInterval;
        _reusePrefix = options.ReusePrefix;
        _cfgScale = options.CfgScale;
        _cfg = _cfgScale > 0;
        _maskId = maskId;
        _grid = model.DiffusionBlockSize;
        if (_mode != CacheMode.None)
        {
            _caching = model as ICachingDenoisingModel
                ?? throw new NotSupportedException($"cache mode '{_mode.ToString().ToLowerInvariant()}' needs a model that implements {nameof(ICachingDenoisingModel)}; {model.GetType().Name} does not (decode with cache none)");
        }
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    /// <summary>Rows in the last forward (without the CFG copies).</summary>
    public int LastRows { get; private set; }

    /// <summary>
    /// One forward for <paramref name="participants"/> (each with candidates). Returns the logits buffer
    /// and, per participant, the row start of each of its candidates.
    /// </summary>
    /// <remarks>Canvases of different lengths are left-padded to the longest row's length L (shift = L − length,
    /// pad id, key mask 0), so answers line up at the end; positions asked of the model are padded ones. Block
    /// diffusion rows are never padded (that would move the grid): rows of each canvas length get their own call.</remarks>
    public (float[] Logits, int[][] RowStarts) Run(IReadOnlyList<SequenceState> participants, IReadOnlyList<SequenceState> unfinished)
    {
        var rowStarts = new int[participants.Count][];
        if (_mode == CacheMode.None) RunUncached(participants, rowStarts);
        else RunCached(participants, unfinished, rowStarts);
        foreach (SequenceState s in participants)
        {
            s.Forwards++;
            if (_mode != CacheMode.None && !_refreshed) s.WindowForwards++;
            s.StepsSinceRefresh++;
        }
        return (_logits, rowStarts);
    }

    private bool _refreshed;

    /// <summary>The end of the rows a block diffusion forward needs: the grid block holding the last participant's block.</summary>
    private int GridEnd(IEnumerable<SequenceState> participants, int length)
        => Math.Min(length, participants.Max(s => RoundUp(Math.Max(s.CurrentBlock.End, s.Candidates[^1] + 1), _grid)));

    /// <summary>Packs rows into [copies·n × callLength] tokens (left-padded to <paramref name="length"/>, cut after
    /// callLength), with the CFG copies (condition masked) in the second half and a key mask when any row is padded.</summary>
    private (int[] Tokens, byte[] KeyMask) Pack(List<SequenceState> rows, int length, int callLength)
    {
        int n = rows.Count, batch = _cfg ? 2 * n : n, L = callLength;
        var tokens = new int[batch * L];
        bool padded = rows.Any(s => s.Length < length);
        byte[] keyMask = padded ? new byte[batch * L] : [];
        for (int b = 0; b < n; b++)
        {
            SequenceState s = rows[b];
            int shift = length - s.Length, kept = L - shift;
            for (int copy = 0; copy < (_cfg ? 2 : 1); copy++)
            {
                Span<int> row = tokens.AsSpan((copy * n + b) * L, L);
                row[..shift].Fill(_padId);
                s.Canvas.AsSpan(0, kept).CopyTo(row[shift..]);
                if (copy == 1)
                    for (int i = 0; i < kept; i++) if (s.Condition[i]) row[shift + i] = _maskId;
                if (padded) keyMask.AsSpan((copy * n + b) * L + shift, kept).Fill(1);
            }
        }
        return (tokens, keyMask);
    }

    /// <summary>Without a cache each row asks only for its own candidates (flat rows b·length + shifted position);
    /// the CFG copies ask for the same, in the same order, in the second half of their call.</summary>
    private void RunUncached(IReadOnlyList<SequenceState> participants, int[][] rowStarts)
    {
        int vocab = _model.VocabSize, per = _cfg ? 2 : 1;
        // (participant, its index in participants): rows of one call, grouped by canvas length on a grid.
        var indexed = participants.Select((s, j) => (State: s, Index: j)).ToList();
        List<List<(SequenceState State, int Index)>> groups = _grid > 0 ? [.. indexed.GroupBy(x => x.State.Length).Select(g => g.ToList())] : [indexed];
        int needed = participants.Sum(s => s.Candidates.Length) * per * vocab;
        if (_logits.Length < needed) _logits = new float[needed];
        int offset = 0;
        foreach (List<(SequenceState State, int Index)> group in groups)
        {
            List<SequenceState> rows = [.. group.Select(x => x.State)];
            int length = rows.Max(s => s.Length), L = _grid > 0 ? GridEnd(rows, length) : length, n = rows.Count;
            var (tokens, keyMask) = Pack(rows, length, L);
            int total = rows.Sum(s => s.Candidates.Length);
            var flat = new int[per * total];
            int k = 0;
            for (int b = 0; b < n; b++)
            {
                SequenceState s = rows[b];
                int shift = length - s.Length;
                var starts = new int[s.Candidates.Length];
                for (int c = 0; c < starts.Length; c++, k++)
                {
                    flat[k] = b * L + s.Candidates[c] + shift;
                    if (_cfg) flat[total + k] = (n + b) * L + s.Candidates[c] + shift;
                    starts[c] = (offset + k) * vocab;
                }
                rowStarts[group[b].Index] = starts;
            }
            Span<float> logits = _logits.AsSpan(offset * vocab, flat.Length * vocab);
            _model.LogitsAt(tokens, per * n, L, flat, logits, keyMask);
            if (_cfg) ClassifierFreeGuidance.Combine(logits[..(total * vocab)], logits.Slice(total * vocab, total * vocab), _cfgScale);
            offset += flat.Length;
        }
        LastRows = participants.Count;
        _refreshed = false;
    }

    private void RunCached(IReadOnlyList<SequenceState> participants, IReadOnlyList<SequenceState> unfinished, int[][] rowStarts)
    {
        int vocab = _model.VocabSize;
        bool refresh = false;
        if (_grid > 0) _cached ??= [.. unfinished]; // the exact cache: never refreshed
        else
        {
            refresh = _cached is null || participants.Any(s => s.NeedsRefresh || !_cached.Contains(s)
                || (_refreshInterval > 0 && s.StepsSinceRefresh >= _refreshInterval));
            if (refresh)
            {
                _cached = [.. unfinished];
                foreach (SequenceState s in _cached) { s.NeedsRefresh = false; s.StepsSinceRefresh = 0; }
            }
        }
        List<SequenceState> rows = _cached!;
        // The padded length: fixed between refreshes since the cached rows are.
        int length = rows.Max(s => s.Length);
        int Shift(SequenceState s) => length - s.Length;

        // The union of the candidates, sorted: the (padded) positions asked of the model.
        var union = new SortedSet<int>();
        foreach (SequenceState s in participants) foreach (int c in s.Candidates) union.Add(c + Shift(s));
        int[] positions = [.. union];
        var indexOf = new int[length];
        for (int i = 0; i < positions.Length; i++) indexOf[positions[i]] = i;
        int start = 0, end = length;
        if (_grid > 0)
        {
            // Every row before _final was computed with final tokens and is never recomputed; the window recomputes
            // [_final, end) and stores it (the previous block rides along with the first step of the next one,
            // instead of SDAR's separate store pass).
            start = _final;
            end = GridEnd(participants, length);
        }
        else if (!refresh)
        {
            start = participants.Min(s => Math.Min(s.CurrentBlock.Start, s.Candidates[0]) + Shift(s));
            end = _mode == CacheMode.Prefix ? length : participants.Max(s => Math.Max(s.CurrentBlock.End, s.Candidates[^1] + 1) + Shift(s));
        }

        int n = rows.Count, batch = _cfg ? 2 * n : n;
        var (tokens, keyMask) = Pack(rows, length, length);
        int count = positions.Length, needed = batch * count * vocab;
        if (_logits.Length < needed) _logits = new float[needed];
        Span<float> logits = _logits.AsSpan(0, needed);
        if (refresh) _caching!.Refresh(tokens, batch, length, positions, logits, keyMask, _reusePrefix);
        else _caching!.LogitsInWindow(tokens, batch, length, start, end, positions, logits, keyMask);
        // Rows of a block depend on every token of that block (attention is bidirectional inside it): only
        // rows before the earliest current block's grid start are final.
        if (_grid > 0) _final = rows.Where(s => !s.Done).Min(s => s.CurrentBlock.Start / _grid * _grid);
        for (int j = 0; j < participants.Count; j++)
        {
            SequenceState s = participants[j];
            int b = rows.IndexOf(s), shift = Shift(s);
            var starts = new int[s.Candidates.Length];
            for (int c = 0; c < starts.Length; c++) starts[c] = (b * count + indexOf[s.Candidates[c] + shift]) * vocab;
            rowStarts[j] = starts;
        }
        LastRows = n;
        _refreshed = refresh;
        if (_cfg) ClassifierFreeGuidance.Combine(logits[..(n * count * vocab)], logits.Slice(n * count * vocab, n * count * vocab), _cfgScale);
    }
}
