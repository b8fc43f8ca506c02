using Dllm.IO;
using Dllm.Tensors;

namespace Dllm.Model;

/// <summary>
/// The LLaDA mask predictor: a pre-norm Llama block stack with bidirectional attention
/// (LLaDA, arXiv 2502.09992, §2.1). Forward per block (shapes for N = batch·len rows):
/// <code>
///   h   = RMSNorm(x)·attn_norm                       [N × d]
///   q,k,v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ                       [N × H·hd], [N × Hkv·hd]
///   q,k = RoPE(q), RoPE(k)   (rotate-half, positions 0..len-1 per sequence)
///   x  += Attention(q,k,v; no causal mask)·Woutᵀ       [N × d]
///   h   = RMSNorm(x)·ff_norm
///   x  += (SiLU(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ
/// logits = RMSNorm(x[positions])·ln_f · Wheadᵀ         [B·P × V]
/// </code>
/// The LM head runs only on the rows the caller asks for: on a small model it is the largest
/// matrix. One forward at a time per instance (the activation buffers are reused).
/// As an <see cref="ICachingDenoisingModel"/> it keeps every layer's post-RoPE keys and values of
/// the last <see cref="Refresh"/> and can recompute only a window of rows against them.
/// </summary>
public sealed class LladaModel : ICachingDenoisingModel, IDisposable
{
    private readonly Rope _rope;
    private readonly ForwardBuffers _buf = new();
    private readonly KvCache _cache = new();
    private readonly Checkpoint? _owned;
    private readonly object _gate = new();

    public LladaConfig Config { get; }
    public LladaWeights Weights { get; }
    public int VocabSize => Weights.Head.Rows;
    public int MaxSequenceLength => Config.MaxSequenceLength;

    /// <summary>
    /// True for models trained from an autoregressive start (Dream): the logits for position p are
    /// read from the hidden state at p − 1 (position 0 reads its own), as Dream's generate does.
    /// </summary>
    public bool ShiftLogits { get; }

    public LladaModel(LladaConfig config, LladaWeights weights, Checkpoint? owned = null, bool shiftLogits = false)
    {
        ShiftLogits = shiftLogits;
        config.Validate();
        Config = config;
        Weights = weights;
        _owned = owned;
        _rope = new Rope(config.HeadDim, config.MaxSequenceLength, config.RopeTheta);
    }

    /// <summary>Opens a Hugging Face LLaDA directory (config.json + safetensors, single or sharded).</summary>
    public static LladaModel Load(string directory)
    {
        string configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"no config.json in '{directory}'", configPath);
        LladaConfig config = LoadConfig(configPath, out bool dream);
        Checkpoint ckpt = Checkpoint.Open(directory);
        try
        {
            LladaWeights weights = LladaWeights.Bind(config, ckpt, dream ? WeightNames.Dream : WeightNames.Llada);
            return new LladaModel(config, weights, ckpt, shiftLogits: dream);
        }
        catch { ckpt.Dispose(); throw; }
    }

    /// <summary>Reads a LLaDA or Dream config.json as the backbone config; <paramref name="dream"/> says which.</summary>
    public static LladaConfig LoadConfig(string configPath, out bool dream)
    {
        dream = DreamConfig.IsDream(configPath);
        // Both loaders validate (LladaConfig.Load by default, ToBackbone always).
        return dream ? DreamConfig.Load(configPath).ToBackbone(configPath) : LladaConfig.Load(configPath);
    }

    public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        Check(tokens, batch, length, 0, length, positions, logits, keyMask);
        lock (_gate) Forward(tokens, batch, length, 0, length, positions, logits, keyMask, CacheUse.None);
    }

    public void Refresh(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        Check(tokens, batch, length, 0, length, positions, logits, keyMask);
        lock (_gate)
        {
            _cache.Ensure(Config.NLayers, batch * length * (Config.NKvHeads ?? Config.NHeads) * Config.HeadDim);
            _cache.Batch = batch; _cache.Length = length;
            Forward(tokens, batch, length, 0, length, positions, logits, keyMask, CacheUse.Store);
        }
    }

    public void LogitsInWindow(ReadOnlySpan<int> tokens, int batch, int length, int start, int end,
        ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        Check(tokens, batch, length, start, end, positions, logits, keyMask);
        lock (_gate)
        {
            if (_cache.Batch != batch || _cache.Length != length)
                throw new InvalidOperationException(_cache.Batch == 0
                    ? "LogitsInWindow called before Refresh: there is no KV cache yet"
                    : $"KV cache holds batch {_cache.Batch} × length {_cache.Length}, asked for {batch} × {length}: refresh first");
            Forward(tokens, batch, length, start, end, positions, logits, keyMask, CacheUse.Read);
        }
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

    private enum CacheUse { None, Store, Read }

    /// <summary>y[r] += bias for each of the rows of y [rows × bias.Length].</summary>
    private static void AddBias(Span<float> y, float[] bias, int rows)
    {
        for (int r = 0; r < rows; r++)
        {
            Span<float> row = y.Slice(r * bias.Length, bias.Length);
            System.Numerics.Tensors.TensorPrimitives.Add(row, bias, row);
        }
    }

    /// <summary>Forward of rows [start, end) of every sequence; keys span the whole canvas.</summary>
    private void Forward(ReadOnlySpan<int> tokens, int batch, int length, int start, int end,
        ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask, CacheUse cache)
    {
        LladaConfig c = Config;
        if (ShiftLogits && start > 0) start--; // the row before the window feeds its first position
        int w = end - start, n = batch * w, d = c.DModel, hd = c.HeadDim, heads = c.NHeads, kv = c.NKvHeads ?? c.NHeads;
        int kvDim = kv * hd, keyRows = batch * length;
        float eps = (float)c.RmsNormEps;
        _buf.Ensure(n, d, heads * hd, kvDim, c.MlpHiddenSize, batch * positions.Length, cache == CacheUse.Read ? keyRows : 0);
        Span<float> x = _buf.X.AsSpan(0, n * d), h = _buf.H.AsSpan(0, n * d);
        Span<float> q = _buf.Q.AsSpan(0, n * heads * hd), att = _buf.Att.AsSpan(0, n * heads * hd);
        Span<float> k = _buf.K.AsSpan(0, n * kvDim), v = _buf.V.AsSpan(0, n * kvDim);
        Span<float> gate = _buf.Gate.AsSpan(0, n * c.MlpHiddenSize), up = _buf.Up.AsSpan(0, n * c.MlpHiddenSize);

        Span<int> ids = _buf.Ids.AsSpan(0, n), pos = _buf.Positions.AsSpan(0, n);
        for (int r = 0; r < n; r++)
        {
            pos[r] = start + r % w;
            ids[r] = tokens[(r / w) * length + pos[r]];
        }
        Embedding.Gather(Weights.Embedding, ids, x);

        for (int l = 0; l < Weights.Blocks.Length; l++)
        {
            LladaBlockWeights bw = Weights.Blocks[l];
            RmsNorm.Forward(x, bw.AttnNorm, eps, h, n);
            Gemm.LinearForward(h, n, bw.Q, q);
            Gemm.LinearForward(h, n, bw.K, k);
            Gemm.LinearForward(h, n, bw.V, v);
            if (bw.QBias is not null) AddBias(q, bw.QBias, n);
            if (bw.KBias is not null) AddBias(k, bw.KBias, n);
            if (bw.VBias is not null) AddBias(v, bw.VBias, n);
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
                Span<float> kFull = _buf.KFull.AsSpan(0, keyRows * kvDim), vFull = _buf.VFull.AsSpan(0, keyRows * kvDim);
                _cache.K[l].AsSpan(0, keyRows * kvDim).CopyTo(kFull);
                _cache.V[l].AsSpan(0, keyRows * kvDim).CopyTo(vFull);
                for (int b = 0; b < batch; b++)
                {
                    k.Slice(b * w * kvDim, w * kvDim).CopyTo(kFull.Slice((b * length + start) * kvDim));
                    v.Slice(b * w * kvDim, w * kvDim).CopyTo(vFull.Slice((b * length + start) * kvDim));
                }
                keys = kFull; values = vFull;
            }
            Attention.Forward(q, keys, values, att, batch, w, start, length, heads, kv, hd, AttentionPattern.Bidirectional, keyMask);
            Gemm.LinearForward(att, n, bw.AttnOut, x, accumulate: true);

            RmsNorm.Forward(x, bw.FfNorm, eps, h, n);
            Gemm.LinearForward(h, n, bw.FfProj, gate);
            Gemm.LinearForward(h, n, bw.UpProj, up);
            SwiGlu.ForwardInPlace(gate, up);
            Gemm.LinearForward(gate, n, bw.FfOut, x, accumulate: true);
        }

        // Only the requested rows go through ln_f and the head.
        int rows = batch * positions.Length;
        Span<float> sel = _buf.Selected.AsSpan(0, rows * d);
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < positions.Length; i++)
                x.Slice((b * w + (ShiftLogits ? Math.Max(positions[i] - 1, 0) : positions[i]) - start) * d, d).CopyTo(sel.Slice((b * positions.Length + i) * d, d));
        RmsNorm.Forward(sel, Weights.FinalNorm, eps, sel, rows);
        if (rows > 0) Gemm.LinearForward(sel, rows, Weights.Head, logits[..(rows * VocabSize)]);
    }

    public void Dispose() => _owned?.Dispose();

    /// <summary>Activation buffers, grown on demand and reused across forwards.</summary>
    private sealed class ForwardBuffers
    {
        public float[] X = [], H = [], Q = [], K = [], V = [], Att = [], Gate = [], Up = [], Selected = [], KFull = [], VFull = [];
        public int[] Positions = [], Ids = [];

        public void Ensure(int n, int d, int qDim, int kvDim, int hidden, int selectedRows, int keyRows)
        {
            Grow(ref X, n * d); Grow(ref H, n * d);
            Grow(ref Q, n * qDim); Grow(ref Att, n * qDim);
            Grow(ref K, n * kvDim); Grow(ref V, n * kvDim);
            Grow(ref Gate, n * hidden); Grow(ref Up, n * hidden);
            Grow(ref Selected, selectedRows * d);
            Grow(ref KFull, keyRows * kvDim); Grow(ref VFull, keyRows * kvDim);
            if (Positions.Length < n) { Positions = new int[n]; Ids = new int[n]; }
        }

        internal static void Grow(ref float[] a, int size)
        {
            if (a.Length < size) a = GC.AllocateUninitializedArray<float>(size);
        }
    }

    /// <summary>Per-layer post-RoPE keys and values of the last refresh: [batch·length × kvHeads·hd] each.</summary>
    private sealed class KvCache
    {
        public float[][] K = [], V = [];
        public int Batch, Length;

        public void Ensure(int layers, int size)
        {
            if (K.Length != layers) { K = new float[layers][]; V = new float[layers][]; for (int l = 0; l < layers; l++) { K[l] = []; V[l] = []; } }
            for (int l = 0; l < layers; l++) { ForwardBuffers.Grow(ref K[l], size); ForwardBuffers.Grow(ref V[l], size); }
        }
    }
}
