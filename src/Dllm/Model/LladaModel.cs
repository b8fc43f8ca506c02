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
/// </summary>
public sealed class LladaModel : IDenoisingModel, IDisposable
{
    private readonly Rope _rope;
    private readonly ForwardBuffers _buf = new();
    private readonly Checkpoint? _owned;
    private readonly object _gate = new();

    public LladaConfig Config { get; }
    public LladaWeights Weights { get; }
    public int VocabSize => Weights.Head.Rows;
    public int MaxSequenceLength => Config.MaxSequenceLength;

    public LladaModel(LladaConfig config, LladaWeights weights, Checkpoint? owned = null)
    {
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
        LladaConfig config = LladaConfig.Load(configPath);
        config.Validate();
        Checkpoint ckpt = Checkpoint.Open(directory);
        try { return new LladaModel(config, LladaWeights.Bind(config, ckpt), ckpt); }
        catch { ckpt.Dispose(); throw; }
    }

    public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        Check(tokens, batch, length, positions, logits, keyMask);
        lock (_gate) Forward(tokens, batch, length, positions, logits, keyMask);
    }

    private void Check(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask)
    {
        if (batch <= 0 || length <= 0) throw new ArgumentException($"empty batch: batch={batch}, length={length}");
        if (length > MaxSequenceLength)
            throw new ArgumentException($"sequence of {length} tokens exceeds the model's max_sequence_length {MaxSequenceLength}");
        if (tokens.Length != batch * length) throw new ArgumentException($"tokens has {tokens.Length} ids, expected batch·length = {batch * length}");
        int emb = Weights.Embedding.Rows;
        foreach (int t in tokens)
            if ((uint)t >= (uint)emb) throw new ArgumentException($"token id {t} is outside the vocabulary [0, {emb})");
        foreach (int p in positions)
            if ((uint)p >= (uint)length) throw new ArgumentException($"logit position {p} is outside the canvas [0, {length})");
        if (logits.Length < (long)batch * positions.Length * VocabSize)
            throw new ArgumentException($"logits span has {logits.Length} floats, need {batch}x{positions.Length}x{VocabSize}");
        if (!keyMask.IsEmpty && keyMask.Length != batch * length)
            throw new ArgumentException($"key mask has {keyMask.Length} entries, expected {batch * length}");
    }

    private void Forward(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask)
    {
        LladaConfig c = Config;
        int n = batch * length, d = c.DModel, hd = c.HeadDim, heads = c.NHeads, kv = c.NKvHeads ?? c.NHeads;
        float eps = (float)c.RmsNormEps;
        _buf.Ensure(n, d, heads * hd, kv * hd, c.MlpHiddenSize, batch * positions.Length);
        Span<float> x = _buf.X.AsSpan(0, n * d), h = _buf.H.AsSpan(0, n * d);
        Span<float> q = _buf.Q.AsSpan(0, n * heads * hd), att = _buf.Att.AsSpan(0, n * heads * hd);
        Span<float> k = _buf.K.AsSpan(0, n * kv * hd), v = _buf.V.AsSpan(0, n * kv * hd);
        Span<float> gate = _buf.Gate.AsSpan(0, n * c.MlpHiddenSize), up = _buf.Up.AsSpan(0, n * c.MlpHiddenSize);

        Embedding.Gather(Weights.Embedding, tokens, x);
        Span<int> pos = _buf.Positions.AsSpan(0, n);
        for (int r = 0; r < n; r++) pos[r] = r % length;

        foreach (LladaBlockWeights w in Weights.Blocks)
        {
            RmsNorm.Forward(x, w.AttnNorm, eps, h, n);
            Gemm.LinearForward(h, n, w.Q, q);
            Gemm.LinearForward(h, n, w.K, k);
            Gemm.LinearForward(h, n, w.V, v);
            _rope.Apply(q, n, heads, pos);
            _rope.Apply(k, n, kv, pos);
            Attention.Forward(q, k, v, att, batch, length, heads, kv, hd, keyMask);
            Gemm.LinearForward(att, n, w.AttnOut, x, accumulate: true);

            RmsNorm.Forward(x, w.FfNorm, eps, h, n);
            Gemm.LinearForward(h, n, w.FfProj, gate);
            Gemm.LinearForward(h, n, w.UpProj, up);
            SwiGlu.ForwardInPlace(gate, up);
            Gemm.LinearForward(gate, n, w.FfOut, x, accumulate: true);
        }

        // Only the requested rows go through ln_f and the head.
        int rows = batch * positions.Length;
        Span<float> sel = _buf.Selected.AsSpan(0, rows * d);
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < positions.Length; i++)
                x.Slice((b * length + positions[i]) * d, d).CopyTo(sel.Slice((b * positions.Length + i) * d, d));
        RmsNorm.Forward(sel, Weights.FinalNorm, eps, sel, rows);
        Gemm.LinearForward(sel, rows, Weights.Head, logits[..(rows * VocabSize)]);
    }

    public void Dispose() => _owned?.Dispose();

    /// <summary>Activation buffers, grown on demand and reused across forwards.</summary>
    private sealed class ForwardBuffers
    {
        public float[] X = [], H = [], Q = [], K = [], V = [], Att = [], Gate = [], Up = [], Selected = [];
        public int[] Positions = [];

        public void Ensure(int n, int d, int qDim, int kvDim, int hidden, int selectedRows)
        {
            Grow(ref X, n * d); Grow(ref H, n * d);
            Grow(ref Q, n * qDim); Grow(ref Att, n * qDim);
            Grow(ref K, n * kvDim); Grow(ref V, n * kvDim);
            Grow(ref Gate, n * hidden); Grow(ref Up, n * hidden);
            Grow(ref Selected, selectedRows * d);
            if (Positions.Length < n) Positions = new int[n];
        }

        private static void Grow(ref float[] a, int size)
        {
            if (a.Length < size) a = GC.AllocateUninitializedArray<float>(size);
        }
    }
}
