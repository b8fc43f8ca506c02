using Dllm.IO;
using Dllm.Tensors;

namespace Dllm.Model;

/// <summary>
/// The one transformer of Dllm: a pre-norm Llama block stack (LLaDA, arXiv 2502.09992, §2.1) that
/// inference, training, the AR baseline and every sampler run. Its <see cref="ModelConfig"/> says the
/// attention pattern (bidirectional for masked diffusion, causal for AR, block-causal for block
/// diffusion), the family's extras (<see cref="FamilySpec"/>: Qwen2/Dream's q/k/v biases, Qwen3's q/k
/// norm and head_dim, Dream's shifted logits) and the shape. Forward per block (shapes for
/// N = batch·len rows; hd is head_dim, which need not be d / H):
/// <code>
///   x   = wte[tokens]   (continuous families: given input vectors, HiddenFromInputs)   [N × d]
///   h   = RMSNorm(x)·attn_norm                          [N × d]
///   q,k,v = h·Wqᵀ (+bq), h·Wkᵀ (+bk), h·Wvᵀ (+bv)         [N × H·hd], [N × Hkv·hd]  (LLaDA2: row views of one fused W)
///   q,k = RMSNorm(q_head)·q_norm, RMSNorm(k_head)·k_norm (Qwen3, LLaDA2: each head's hd values, as [N·H × hd])
///   q,k = RoPE(q), RoPE(k)   (rotate-half, positions 0..len-1 per sequence; LLaDA2: the first rope_dim dims of each head)
///   x  += Attention(q,k,v; pattern)·Woutᵀ (+bo)          [N × d]
///   h   = RMSNorm(x)·ff_norm
///   x  += (SiLU(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ              (or MixtureOfExperts(h) on a MoE layer)
/// logits = RMSNorm(x[rows])·ln_f · Wheadᵀ                [R × V]   (rows shifted by one for Dream)
/// </code>
/// The final norm and the LM head run only on the rows asked for: on a small model the head is the
/// largest matrix. With an <see cref="ActivationTape"/> that saves, every activation the backward needs
/// is kept (training's <c>TrainableModel</c> runs the backward over it). As an
/// <see cref="ICachingDenoisingModel"/> it keeps every layer's post-RoPE keys and values (<see cref="KvCache"/>):
/// a <see cref="Refresh"/> stores all rows, a window recomputes only its rows against the stored ones and stores
/// them; for a block diffusion model that cache is exact, and a new canvas that starts like the cached one reuses
/// the matching rows. A BD3 training batch may run the two-halves view of the block-causal pattern.
/// One forward at a time per instance (a lock; the buffers are reused).
/// </summary>
public sealed class Transformer : ICachingDenoisingModel, IDisposable
{
    private readonly Rope _rope;
    private readonly ActivationTape _scratch = new();
    private readonly KvCache _cache = new();
    private readonly IDisposable? _owned;
    private readonly object _gate = new();
    private PackedWeight[] _packed = [];

    /// <summary>Whether <see cref="Load"/> packs the linear weights once (<see cref="PackedWeight"/>: in their
    /// stored precision, or for block-quantized ones in the int8 kernels' layout at about their stored size, the
    /// checkpoint's own pages then released, so resident memory stays about the file's size; a GGUF file too).
    /// Default true; false gives the per-call packing path (same results, bit for bit), for benchmarks.</summary>
    public static bool PackWeightsAtLoad { get; set; } = true;

    public ModelConfig Config { get; }
    public TransformerWeights Weights { get; }
    public int VocabSize => Weights.Head.Rows;
    public int MaxSequenceLength => Config.MaxSequenceLength;
    public int DiffusionBlockSize => Config.Attention == AttentionKind.BlockCausal ? Config.BlockSize : 0;

    /// <param name="owned">Disposed with the model (the checkpoint whose memory map the weights view).</param>
    /// <exception cref="InvalidDataException">The config does not validate.</exception>
    public Transformer(ModelConfig config, TransformerWeights weights, IDisposable? owned = null)
    {
        config.Validate();
        Config = config;
        Weights = weights;
        _owned = owned;
        _rope = new Rope(config.HeadDim, config.MaxSequenceLength, config.RopeTheta, config.RopeDim);
    }

    /// <summary>Opens a Hugging Face directory (config.json of a supported family + safetensors, single or sharded),
    /// or a llada, dream or llada-moe <c>*.gguf</c> file (<see cref="GgufModel.Load"/>).</summary>
    /// <exception cref="FileNotFoundException">No config.json.</exception>
    /// <exception cref="InvalidDataException">The config or a tensor is invalid (the message names it).</exception>
    public static Transformer Load(string directory)
    {
        if (GgufModel.IsGgufPath(directory)) return GgufModel.Load(directory);
        string configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"no config.json in '{directory}'", configPath);
        ModelConfig config = ModelConfig.Load(configPath);
        Checkpoint ckpt = Checkpoint.Open(directory);
        Transformer? model = null;
        try
        {
            model = new Transformer(config, TransformerWeights.Bind(config, ckpt), ckpt);
            if (PackWeightsAtLoad) model.PackWeights();
            return model;
        }
        catch { if (model is null) ckpt.Dispose(); else model.Dispose(); throw; }
    }

    public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        Check(tokens, batch, length, 0, length, positions, logits, keyMask);
        lock (_gate) LogitsOf(tokens, batch, length, 0, length, positions, logits, keyMask, CacheUse.None);
    }

    /// <summary>Per-sequence positions: only the rows asked for go through the final norm and the head.</summary>
    public void LogitsAt(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> rows,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        Check(tokens, batch, length, 0, length, [], logits, keyMask);
        foreach (int r in rows)
            if ((uint)r >= (uint)(batch * length)) throw new ArgumentException($"row {r} is outside the batch's {batch}x{length} canvas rows");
        if (logits.Length < (long)rows.Length * VocabSize) throw new ArgumentException($"logits span has {logits.Length} floats, need {rows.Length}x{VocabSize}");
        lock (_gate)
        {
            Forward(tokens, batch, length, 0, length, rows, keyMask, CacheUse.None, _scratch, save: false);
            if (rows.Length > 0) Gemm.LinearForward(_scratch.SelNorm.AsSpan(0, rows.Length * Config.DModel), rows.Length, Weights.Head, logits[..(rows.Length * VocabSize)]);
        }
    }

    public void Refresh(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default, bool reusePrefix = false)
    {
        Check(tokens, batch, length, 0, length, positions, logits, keyMask);
        lock (_gate)
        {
            int kvDim = Config.KvHeads * Config.HeadDim;
            // Prefix reuse (one canvas, opt-in): rows [0, from) keep what the cache holds for the same tokens; the rest is
            // computed as a window over them. Rows of one canvas sit at the same offsets whatever its length.
            int from = reusePrefix && batch == 1 && _cache.Batch == 1 ? _cache.ReusablePrefix(tokens, MinOrEnd(positions, length), 1) : 0;
            _cache.Ensure(Config.NLayers, (long)batch * length * kvDim, keep: (long)from * kvDim, zeroRest: false);
            _cache.Batch = batch; _cache.Length = length;
            _cache.ReusedRows += from;
            LogitsOf(tokens, batch, length, from, length, positions, logits, keyMask, from > 0 ? CacheUse.Read : CacheUse.Store);
            if (batch == 1) _cache.Record(tokens, from, length);
            else _cache.Forget();
        }
    }

    public void LogitsInWindow(ReadOnlySpan<int> tokens, int batch, int length, int start, int end,
        ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        Check(tokens, batch, length, start, end, positions, logits, keyMask);
        lock (_gate)
        {
            int grid = DiffusionBlockSize, kvDim = Config.KvHeads * Config.HeadDim;
            // A block diffusion window at 0 may reuse the rows of an earlier canvas with the same prefix (one sequence
            // only): a row's keys and values depend on nothing after its block, so they are exact.
            int from = start == 0 && batch == 1 && grid > 0 ? _cache.ReusablePrefix(tokens, Math.Min(end, MinOrEnd(positions, end)), grid) : start;
            if (_cache.Batch != batch || _cache.Length != length)
            {
                // A window that starts at 0 and whose rows see no key at or after its end (a block-causal
                // window ending on a block boundary) reads nothing from a cache: it may start one.
                if (start != 0 || Config.Pattern.KeyLimit(end - 1, length) > end)
                    throw new InvalidOperationException(_cache.Batch == 0
                        ? "LogitsInWindow called before Refresh: there is no KV cache yet"
                        : $"KV cache holds batch {_cache.Batch} × length {_cache.Length}, asked for {batch} × {length}: refresh first");
                _cache.Ensure(Config.NLayers, (long)batch * length * kvDim, keep: (long)from * kvDim, zeroRest: true);
                _cache.Batch = batch; _cache.Length = length;
            }
            _cache.ReusedRows += from - start;
            LogitsOf(tokens, batch, length, from, end, positions, logits, keyMask, CacheUse.Read);
            if (batch == 1) _cache.Record(tokens, from, end); // rows [0, end) now hold these tokens' keys (exact on a block grid)
            else _cache.Forget();
        }
    }

    /// <summary>
    /// The training forward: every row of [batch × length] canvases, every activation saved on
    /// <paramref name="tape"/>, and the final-normed hidden states of the flat canvas rows
    /// <paramref name="rows"/> (b·length + i) left in <c>tape.SelNorm</c> [R × d] for the loss head.
    /// The caller has checked the tokens and rows (and the key mask: batch·length entries, 0 = padding key).
    /// </summary>
    internal void ForwardSaving(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> rows, ActivationTape tape,
        ReadOnlySpan<byte> keyMask = default, AttentionPattern? trainingView = null)
    {
        lock (_gate) Forward(tokens, batch, length, 0, length, rows, keyMask, CacheUse.None, tape, save: true, trainingView);
    }

    /// <summary>Rows of earlier canvases a block diffusion window reused instead of recomputing (prefix reuse).</summary>
    internal long ReusedCacheRows => _cache.ReusedRows;

    private static int MinOrEnd(ReadOnlySpan<int> positions, int end)
    {
        int m = end;
        foreach (int p in positions) m = Math.Min(m, p);
        return m;
    }

    /// <summary>
    /// The continuous families' forward (Diffusion-LM, DiffuSeq, SSD-LM): input vectors instead of token ids
    /// (the first block reads <paramref name="inputs"/> [batch·length × d] where it would read wte[tokens]),
    /// everything else as <see cref="Logits"/>. Leaves RMSNorm(x[rows])·ln_f of the flat rows
    /// <paramref name="rows"/> (b·length + i) in <paramref name="hidden"/> [R × d]: Diffusion-LM's x0
    /// prediction, or what the LM head maps to logits (<see cref="HeadLogits"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Sizes that do not match, a row outside the canvas, or a sequence
    /// longer than max_sequence_length.</exception>
    public void HiddenFromInputs(ReadOnlySpan<float> inputs, int batch, int length, ReadOnlySpan<int> rows, Span<float> hidden)
    {
        CheckInputs(inputs, batch, length, rows);
        if (hidden.Length < (long)rows.Length * Config.DModel) throw new ArgumentException($"hidden span has {hidden.Length} floats, need {rows.Length}x{Config.DModel}");
        lock (_gate)
        {
            Forward([], batch, length, 0, length, rows, default, CacheUse.None, _scratch, save: false, inputs: inputs);
            _scratch.SelNorm.AsSpan(0, rows.Length * Config.DModel).CopyTo(hidden);
        }
    }

    /// <summary>The LM head on final-normed hidden states: logits [R × V] = hidden [R × d] · Wheadᵀ.</summary>
    public void HeadLogits(ReadOnlySpan<float> hidden, int rows, Span<float> logits)
    {
        if (hidden.Length < (long)rows * Config.DModel || logits.Length < (long)rows * VocabSize)
            throw new ArgumentException($"head logits of {rows} rows need {rows}x{Config.DModel} hidden and {rows}x{VocabSize} logit floats");
        Gemm.LinearForward(hidden[..(rows * Config.DModel)], rows, Weights.Head, logits[..(rows * VocabSize)]);
    }

    /// <summary><see cref="ForwardSaving"/> from input vectors [batch·length × d] instead of token ids (the
    /// continuous families' training forward); the caller has checked the sizes (<see cref="CheckInputs"/>).</summary>
    internal void ForwardSavingInputs(ReadOnlySpan<float> inputs, int batch, int length, ReadOnlySpan<int> rows, ActivationTape tape)
    {
        lock (_gate) Forward([], batch, length, 0, length, rows, default, CacheUse.None, tape, save: true, inputs: inputs);
    }

    /// <exception cref="ArgumentException">The inputs are not batch·length·d floats, a row is outside the canvas,
    /// a value is not finite, or the canvas is empty or too long.</exception>
    internal void CheckInputs(ReadOnlySpan<float> inputs, int batch, int length, ReadOnlySpan<int> rows)
    {
        if (batch <= 0 || length <= 0) throw new ArgumentException($"empty batch: batch={batch}, length={length}");
        if (length > MaxSequenceLength)
            throw new ArgumentException($"sequence of {length} positions exceeds the model's max_sequence_length {MaxSequenceLength}");
        if (inputs.Length != (long)batch * length * Config.DModel)
            throw new ArgumentException($"inputs has {inputs.Length} floats, expected batch·length·d = {batch}x{length}x{Config.DModel}");
        foreach (int r in rows)
            if ((uint)r >= (uint)(batch * length)) throw new ArgumentException($"row {r} is outside the canvas rows [0, {batch * length})");
        if (!System.Numerics.Tensors.TensorPrimitives.IsFiniteAll(inputs)) throw new ArgumentException("an input vector has a NaN or infinite value");
    }

    private void Check(ReadOnlySpan<int> tokens, int batch, int length, int start, int end, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask)
    {
        if (batch <= 0 || length <= 0) throw new ArgumentException($"empty batch: batch={batch}, length={length}");
        if (length > MaxSequenceLength)
            throw new ArgumentException($"sequence of {length} tokens exceeds the model's max_sequence_length {MaxSequenceLength}");
        if (tokens.Length != batch * length) throw new ArgumentException($"tokens has {tokens.Length} ids, expected batch·length = {batch * length}");
        if (start < 0 || end > length || start >= end) throw new ArgumentException($"window [{start}, {end}) is empty or outside the canvas [0, {length})");
        int emb = Weights.Embedding.Rows;
        foreach (int t in tokens)
            if ((uint)t >= (uint)emb) throw new ArgumentException($"token id {t} is outside the vocabulary [0, {emb})");
        foreach (int p in positions)
            if (p < start || p >= end) throw new ArgumentException($"logit position {p} is outside the computed rows [{start}, {end})");
        if (logits.Length < (long)batch * positions.Length * VocabSize)
            throw new ArgumentException($"logits span has {logits.Length} floats, need {batch}x{positions.Length}x{VocabSize}");
        if (!keyMask.IsEmpty && keyMask.Length != batch * length)
            throw new ArgumentException($"key mask has {keyMask.Length} entries, expected {batch * length}");
    }

    /// <summary>None: no cache. Store: a refresh writes every row. Read: a window reads the cache outside itself and
    /// writes its own rows.</summary>
    private enum CacheUse { None, Store, Read }

    /// <summary>Logits [batch × positions × V] of rows [start, end): the same positions in every sequence.</summary>
    private void LogitsOf(ReadOnlySpan<int> tokens, int batch, int length, int start, int end, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask, CacheUse cache)
    {
        int r = batch * positions.Length;
        Span<int> rows = r <= 1024 ? stackalloc int[r] : new int[r];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < positions.Length; i++) rows[b * positions.Length + i] = b * length + positions[i];
        Forward(tokens, batch, length, start, end, rows, keyMask, cache, _scratch, save: false);
        if (r > 0) Gemm.LinearForward(_scratch.SelNorm.AsSpan(0, r * Config.DModel), r, Weights.Head, logits[..(r * VocabSize)]);
    }

    /// <summary>
    /// Forward of rows [start, end) of every sequence (keys span the whole canvas: cached outside the
    /// window when reading the cache). Leaves RMSNorm(x[rows])·ln_f in <c>tape.SelNorm</c> [R × d],
    /// where <paramref name="rows"/> are flat canvas rows b·length + p inside the window.
    /// </summary>
    private void Forward(ReadOnlySpan<int> tokens, int batch, int length, int start, int end, ReadOnlySpan<int> rows,
        ReadOnlySpan<byte> keyMask, CacheUse cache, ActivationTape t, bool save, AttentionPattern? trainingView = null,
        ReadOnlySpan<float> inputs = default)
    {
        ModelConfig c = Config;
        int windowStart = start;
        if (c.ShiftLogits && start > 0) start--; // the row before the window feeds its first position
        int w = end - start, n = batch * w, d = c.DModel, hd = c.HeadDim, heads = c.NHeads, kv = c.KvHeads, f = c.DenseMlpHidden;
        int kvDim = kv * hd, keyRows = batch * length, sel = rows.Length;
        float eps = (float)c.RmsNormEps;
        AttentionPattern pattern = trainingView ?? c.Pattern; // BD3's two-halves view of a block-causal model
        t.Ensure(save ? c.NLayers : 1, save, n, batch, length, d, heads, kv, hd, f, sel, cache == CacheUse.Read ? keyRows : 0);

        Span<int> ids = t.Ids.AsSpan(0, n), pos = t.Positions.AsSpan(0, n);
        for (int r = 0; r < n; r++)
        {
            int p = start + r % w;
            pos[r] = pattern.PositionOf(p);
            ids[r] = inputs.IsEmpty ? tokens[(r / w) * length + p] : -1; // -1: a continuous input row, no id
        }
        Span<float> x = t.Layers[0].XIn.AsSpan(0, n * d);
        if (inputs.IsEmpty) Embedding.Gather(Weights.Embedding, ids, x);
        else for (int r = 0; r < n; r++) inputs.Slice(((r / w) * length + start + r % w) * d, d).CopyTo(x.Slice(r * d, d));

        for (int l = 0; l < Weights.Blocks.Length; l++)
        {
            BlockWeights bw = Weights.Blocks[l];
            ActivationTape.Layer s = t.Layers[save ? l : 0];
            Span<float> h1 = s.H1.AsSpan(0, n * d), q = s.Q.AsSpan(0, n * heads * hd), att = s.Att.AsSpan(0, n * heads * hd);
            Span<float> k = s.K.AsSpan(0, n * kvDim), v = s.V.AsSpan(0, n * kvDim);
            RmsNorm.Forward(x, bw.AttnNorm.Span, eps, h1, n);
            Gemm.LinearForward(h1, n, bw.Q, q);
            Gemm.LinearForward(h1, n, bw.K, k);
            Gemm.LinearForward(h1, n, bw.V, v);
            Bias.Forward(q, bw.QBias.Span, n);
            Bias.Forward(k, bw.KBias.Span, n);
            Bias.Forward(v, bw.VBias.Span, n);
            if (c.QkNorm)
            {
                // Qwen3 (modeling_qwen3.py Qwen3Attention): q_norm(q_proj(h).view(..., hd)), likewise k, before RoPE.
                if (save) { t.EnsureQkNormInputs(l, n * heads * hd, n * kvDim); q.CopyTo(s.QRaw); k.CopyTo(s.KRaw); }
                RmsNorm.Forward(q, bw.QNorm.Span, eps, q, n * heads);
                RmsNorm.Forward(k, bw.KNorm.Span, eps, k, n * kv);
            }
            _rope.Apply(q, n, heads, pos);
            _rope.Apply(k, n, kv, pos);
            ReadOnlySpan<float> keys = k, values = v;
            if (cache == CacheUse.Store)
            {
                k.CopyTo(_cache.K[l]);
                v.CopyTo(_cache.V[l]);
            }
            else if (cache == CacheUse.Read)
            {
                // Cached keys everywhere, this step's keys inside the window.
                Span<float> kFull = t.KFull.AsSpan(0, keyRows * kvDim), vFull = t.VFull.AsSpan(0, keyRows * kvDim);
                _cache.K[l].AsSpan(0, keyRows * kvDim).CopyTo(kFull);
                _cache.V[l].AsSpan(0, keyRows * kvDim).CopyTo(vFull);
                int skip = windowStart - start; // Dream's extra row before the window is used, not stored
                for (int b = 0; b < batch; b++)
                {
                    k.Slice(b * w * kvDim, w * kvDim).CopyTo(kFull.Slice((b * length + start) * kvDim));
                    v.Slice(b * w * kvDim, w * kvDim).CopyTo(vFull.Slice((b * length + start) * kvDim));
                    // The window's keys and values replace the cached ones (Fast-dLLM's replace_position): for a
                    // block-causal model, rows whose tokens are final are then cached exactly and never recomputed.
                    k.Slice((b * w + skip) * kvDim, (w - skip) * kvDim).CopyTo(_cache.K[l].AsSpan((b * length + windowStart) * kvDim));
                    v.Slice((b * w + skip) * kvDim, (w - skip) * kvDim).CopyTo(_cache.V[l].AsSpan((b * length + windowStart) * kvDim));
                }
                keys = kFull; values = vFull;
            }
            Attention.Forward(q, keys, values, att, batch, w, start, length, heads, kv, hd, pattern, keyMask,
                save ? s.Probs.AsSpan(0, batch * heads * length * length) : default);
            if (save) { x.CopyTo(s.XMid); x = s.XMid.AsSpan(0, n * d); }
            Gemm.LinearForward(att, n, bw.AttnOut, x, accumulate: true);
            Bias.Forward(x, bw.OutBias.Span, n); // Qwen3 attention_bias, LLaDA2 use_bias (attention.dense.bias)

            // Inference reuses h1 for the second norm and computes the activation into gate in place.
            Span<float> h2 = save ? s.H2.AsSpan(0, n * d) : h1;
            RmsNorm.Forward(x, bw.FfNorm.Span, eps, h2, n);
            if (save)
            {
                Span<float> next = (l + 1 < c.NLayers ? t.Layers[l + 1].XIn : t.XOut).AsSpan(0, n * d);
                x.CopyTo(next);
                x = next;
            }
            if (bw.Moe is MoeWeights moe)
            {
                MixtureOfExperts.Forward(moe, c.Moe!, h2, n, d, x, s.Moe ??= new MoeActivations(), save);
                continue;
            }
            Span<float> gate = s.Gate.AsSpan(0, n * f), up = s.Up.AsSpan(0, n * f);
            Span<float> act = save ? s.Act.AsSpan(0, n * f) : gate;
            Gemm.LinearForward(h2, n, bw.FfProj, gate);
            Gemm.LinearForward(h2, n, bw.UpProj, up);
            SwiGlu.Forward(gate, up, act); // with the tape, gate is kept for the backward
            Gemm.LinearForward(act, n, bw.FfOut, x, accumulate: true);
        }
        if (save && c.NLayers == 0) x.CopyTo(t.XOut);

        // Only the requested rows go through ln_f (Dream reads the row before: its logits are shifted).
        Span<float> selIn = t.SelIn.AsSpan(0, sel * d), selNorm = t.SelNorm.AsSpan(0, sel * d);
        Span<int> selRows = t.SelRows.AsSpan(0, sel);
        bool shift = c.ShiftLogits;
        for (int i = 0; i < sel; i++)
        {
            int b = rows[i] / length, p = rows[i] % length;
            if (shift) p = pattern.ShiftSource(p);
            selRows[i] = b * w + p - start;
            x.Slice(selRows[i] * d, d).CopyTo(selIn.Slice(i * d, d));
        }
        RmsNorm.Forward(selIn, Weights.FinalNorm.Span, eps, selNorm, sel);
    }

    /// <summary>Packs every f32/bf16 and block-quantized linear weight (only for weights that never change: a read-only
    /// memory-mapped checkpoint). A source for which <paramref name="releasable"/> says so (default: all) has its pages
    /// dropped from the resident set once packed: only views of a file mapping may be released (anonymous memory would
    /// read back as zeros). <paramref name="sourceRows"/> may give a quantized weight's row order (a GGUF's permuted q/k):
    /// packed row r is then source row sourceRows(w)(r).</summary>
    internal void PackWeights(Func<MatrixView, bool>? releasable = null, Func<MatrixView, Func<int, int>?>? sourceRows = null)
    {
        var packed = new List<PackedWeight>();
        try
        {
            foreach (MatrixView w in Weights.LinearWeights())
                if (PackedWeight.TryPack(w, releaseSource: releasable?.Invoke(w) ?? true, sourceRows?.Invoke(w)) is { } p)
                {
                    packed.Add(p);
                    p.Register();
                }
        }
        finally { _packed = [.. packed]; }
    }

    public void Dispose()
    {
        foreach (PackedWeight p in _packed) p.Dispose();
        _packed = [];
        _owned?.Dispose();
    }
}
