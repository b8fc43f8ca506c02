using Dllm.Model;

namespace Dllm.Sampling;

/// <summary>
/// Runs the model for one denoising round of a batch: packs the participating canvases (left-padded,
/// with a key mask when any has padding), doubles the batch for classifier-free guidance, and picks
/// the call the cache mode asks for — Logits, Refresh or LogitsInWindow — keeping the cached batch
/// fixed between refreshes as the cache contract requires.
/// </summary>
/// <remarks>
/// Cache policy (Fast-dLLM, Wu et al. 2025, §3.2): refresh when any participant begins a block, when
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
    private readonly bool _cfg;
    private readonly double _cfgScale;
    private List<SequenceState>? _cached;
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
        _cfgScale = options.CfgScale;
        _cfg = _cfgScale > 0;
        _maskId = maskId;
        if (_mode != CacheMode.None)
        {
            _caching = model as ICachingDenoisingModel
                ?? throw new NotSupportedException($"cache mode '{_mode.ToString().ToLowerInvariant()}' needs a model that implements {nameof(ICachingDenoisingModel)}; {model.GetType().Name} does not (decode with cache none)");
        }
    }

    /// <summary>Rows in the last forward (without the CFG copies).</summary>
    public int LastRows { get; private set; }

    /// <summary>
    /// One forward for <paramref name="participants"/> (each with candidates). Returns the logits buffer
    /// and, per participant, the row start of each of its candidates.
    /// </summary>
    /// <remarks>Canvases of different lengths are left-padded to the longest row's length L (shift = L − length,
    /// pad id, key mask 0), so answers line up at the end; positions asked of the model are padded ones.</remarks>
    public (float[] Logits, int[][] RowStarts) Run(IReadOnlyList<SequenceState> participants, IReadOnlyList<SequenceState> unfinished)
    {
        int vocab = _model.VocabSize;
        bool window = false, refresh = false;
        List<SequenceState> rows;
        if (_mode == CacheMode.None) rows = [.. participants];
        else
        {
            refresh = _cached is null || participants.Any(s => s.NeedsRefresh || !_cached.Contains(s)
                || (_refreshInterval > 0 && s.StepsSinceRefresh >= _refreshInterval));
            if (refresh)
            {
                _cached = [.. unfinished];
                foreach (SequenceState s in _cached) { s.NeedsRefresh = false; s.StepsSinceRefresh = 0; }
            }
            else window = true;
            rows = _cached!;
        }
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
        if (window)
        {
            start = participants.Min(s => Math.Min(s.CurrentBlock.Start, s.Candidates[0]) + Shift(s));
            end = _mode == CacheMode.Prefix ? length : participants.Max(s => Math.Max(s.CurrentBlock.End, s.Candidates[^1] + 1) + Shift(s));
        }

        int n = rows.Count, batch = _cfg ? 2 * n : n;
        var tokens = new int[batch * length];
        bool padded = rows.Any(s => s.Length < length);
        byte[] keyMask = padded ? new byte[batch * length] : [];
        for (int b = 0; b < n; b++)
        {
            SequenceState s = rows[b];
            int shift = Shift(s);
            for (int copy = 0; copy < (_cfg ? 2 : 1); copy++)
            {
                Span<int> row = tokens.AsSpan((copy * n + b) * length, length);
                row[..shift].Fill(_padId);
                s.Canvas.CopyTo(row[shift..]);
                if (copy == 1)
                    for (int i = 0; i < s.Length; i++) if (s.Condition[i]) row[shift + i] = _maskId;
                if (padded) keyMask.AsSpan((copy * n + b) * length + shift, s.Length).Fill(1);
            }
        }

        var rowStarts = new int[participants.Count][];
        Span<float> logits;
        int half;
        if (_mode == CacheMode.None)
        {
            // Each row asks only for its own candidates (flat rows b·length + shifted position); the CFG copies
            // ask for the same, in the same order, in the second half.
            int total = participants.Sum(s => s.Candidates.Length), per = _cfg ? 2 : 1;
            var flat = new int[per * total];
            int k = 0;
            for (int j = 0; j < participants.Count; j++)
            {
                SequenceState s = participants[j];
                int b = rows.IndexOf(s), shift = Shift(s);
                var starts = new int[s.Candidates.Length];
                for (int c = 0; c < starts.Length; c++, k++)
                {
                    flat[k] = b * length + s.Candidates[c] + shift;
                    if (_cfg) flat[total + k] = (n + b) * length + s.Candidates[c] + shift;
                    starts[c] = k * vocab;
                }
                rowStarts[j] = starts;
            }
            int needed = flat.Length * vocab;
            if (_logits.Length < needed) _logits = new float[needed];
            logits = _logits.AsSpan(0, needed);
            _model.LogitsAt(tokens, batch, length, flat, logits, keyMask);
            half = total * vocab;
        }
        else
        {
            int count = positions.Length, needed = batch * count * vocab;
            if (_logits.Length < needed) _logits = new float[needed];
            logits = _logits.AsSpan(0, needed);
            if (refresh) _caching!.Refresh(tokens, batch, length, positions, logits, keyMask);
            else _caching!.LogitsInWindow(tokens, batch, length, start, end, positions, logits, keyMask);
            half = n * count * vocab;
            for (int j = 0; j < participants.Count; j++)
            {
                SequenceState s = participants[j];
                int b = rows.IndexOf(s), shift = Shift(s);
                var starts = new int[s.Candidates.Length];
                for (int c = 0; c < starts.Length; c++) starts[c] = (b * count + indexOf[s.Candidates[c] + shift]) * vocab;
                rowStarts[j] = starts;
            }
        }
        LastRows = n;
        if (_cfg) ClassifierFreeGuidance.Combine(logits[..half], logits.Slice(half, half), _cfgScale);

        foreach (SequenceState s in participants)
        {
            s.Forwards++;
            if (window) s.WindowForwards++;
            s.StepsSinceRefresh++;
        }
        return (_logits, rowStarts);
    }
}
