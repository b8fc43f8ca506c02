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
    private readonly int _refreshInterval, _maskId;
    private readonly bool _cfg;
    private readonly double _cfgScale;
    private readonly int _grid;
    private List<SequenceState>? _cached;
    private int _final; // block diffusion cache: rows [0, _final) hold final keys and values
    private float[] _logits = [];

    public ModelRunner(IDenoisingModel model, DecodingOptions options, int maskId)
    {
        _model = model;
        _mode = options.Cache;
        _refreshInterval = options.RefreshInterval;
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

    /// <summary>
    /// One forward for <paramref name="participants"/> (each with candidates). Returns the logits buffer
    /// and, per participant, the row start of each of its candidates.
    /// </summary>
    public (float[] Logits, int[][] RowStarts) Run(IReadOnlyList<SequenceState> participants, IReadOnlyList<SequenceState> unfinished)
    {
        int length = participants[0].Length, vocab = _model.VocabSize;
        // The union of the candidates, sorted: the positions asked of the model.
        var union = new SortedSet<int>();
        foreach (SequenceState s in participants) union.UnionWith(s.Candidates);
        int[] positions = [.. union];
        var indexOf = new int[length];
        for (int i = 0; i < positions.Length; i++) indexOf[positions[i]] = i;

        bool window = false, refresh = false;
        int start = 0, end = length, callLength = length;
        List<SequenceState> rows;
        if (_grid > 0)
        {
            // Block diffusion: nothing after the last participant's block end is seen by any asked position.
            end = Math.Min(length, participants.Max(s => RoundUp(Math.Max(s.CurrentBlock.End, s.Candidates[^1] + 1), _grid)));
            if (_mode == CacheMode.None) { rows = [.. participants]; callLength = end; }
            else
            {
                // The exact cache: every row before _final was computed with final tokens and is never recomputed;
                // the window recomputes [_final, end) and stores it (the previous block rides along with the
                // first step of the next one, instead of SDAR's separate store pass).
                _cached ??= [.. unfinished];
                rows = _cached;
                window = true;
                start = _final;
            }
        }
        else if (_mode == CacheMode.None) rows = [.. participants];
        else
        {
            refresh = _cached is null || participants.Any(s => s.NeedsRefresh || !_cached.Contains(s)
                || (_refreshInterval > 0 && s.StepsSinceRefresh >= _refreshInterval));
            if (refresh)
            {
                _cached = [.. unfinished];
                foreach (SequenceState s in _cached) { s.NeedsRefresh = false; s.StepsSinceRefresh = 0; }
            }
            else
            {
                window = true;
                start = participants.Min(s => Math.Min(s.CurrentBlock.Start, s.Candidates[0]));
                end = _mode == CacheMode.Prefix ? length : participants.Max(s => Math.Max(s.CurrentBlock.End, s.Candidates[^1] + 1));
            }
            rows = _cached!;
        }

        int n = rows.Count, batch = _cfg ? 2 * n : n;
        int L = callLength;
        var tokens = new int[batch * L];
        bool padded = rows.Any(s => s.Offset > 0);
        byte[] keyMask = padded ? new byte[batch * L] : [];
        for (int b = 0; b < n; b++)
        {
            SequenceState s = rows[b];
            s.Canvas.AsSpan(0, L).CopyTo(tokens.AsSpan(b * L, L));
            if (_cfg)
            {
                Span<int> u = tokens.AsSpan((n + b) * L, L);
                s.Canvas.AsSpan(0, L).CopyTo(u);
                for (int i = 0; i < L; i++) if (s.Condition[i]) u[i] = _maskId;
            }
            if (padded)
            {
                for (int copy = 0; copy < (_cfg ? 2 : 1); copy++)
                    keyMask.AsSpan((copy * n + b) * L + s.Offset, L - s.Offset).Fill(1);
            }
        }

        int count = positions.Length, needed = batch * count * vocab;
        if (_logits.Length < needed) _logits = new float[needed];
        Span<float> logits = _logits.AsSpan(0, needed);
        if (_mode == CacheMode.None) _model.Logits(tokens, batch, L, positions, logits, keyMask);
        else if (refresh) _caching!.Refresh(tokens, batch, length, positions, logits, keyMask);
        else _caching!.LogitsInWindow(tokens, batch, length, start, end, positions, logits, keyMask);

        // Rows of a block depend on every token of that block (attention is bidirectional inside it): only
        // rows before the earliest current block's grid start are final.
        if (_grid > 0 && window) _final = rows.Where(s => !s.Done).Min(s => s.CurrentBlock.Start / _grid * _grid);

        if (_cfg)
        {
            int half = n * count * vocab;
            ClassifierFreeGuidance.Combine(logits[..half], logits.Slice(half, half), _cfgScale);
        }

        var rowStarts = new int[participants.Count][];
        for (int j = 0; j < participants.Count; j++)
        {
            SequenceState s = participants[j];
            int b = rows.IndexOf(s);
            var starts = new int[s.Candidates.Length];
            for (int c = 0; c < starts.Length; c++) starts[c] = (b * count + indexOf[s.Candidates[c]]) * vocab;
            rowStarts[j] = starts;
            s.Forwards++;
            if (window) s.WindowForwards++;
            s.StepsSinceRefresh++;
        }
        return (_logits, rowStarts);
    }
}
