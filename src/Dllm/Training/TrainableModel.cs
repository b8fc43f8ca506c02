using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>
/// A <see cref="Transformer"/> with float32 parameters, gradients and the backward pass (llm.c
/// style: flat arrays, a hand-written backward per op). The model's weights are views into
/// <see cref="Parameters"/>, so the forward that trains is the forward that samples: this class owns no
/// forward of its own. Every tensor the config has trains (Dream's q/k/v biases included), under every
/// attention pattern. The loss:
/// <code>
///   hidden = RMSNorm(x[rows])·ln_f             (Transformer forward with a saving tape)   [R × d]
///   loss   = Σ_r w_r·CE(hidden_r · Wheadᵀ, target_r)                                      scalar
/// </code>
/// <see cref="Forward"/> runs it and keeps the tape; <see cref="Backward"/> adds the gradients into
/// <see cref="Parameters.Grads"/> (zero them with <see cref="ZeroGrad"/>; not zeroing accumulates over
/// micro-batches). Sampling from <see cref="Model"/> between Forward and Backward is harmless (it uses
/// other buffers). Not thread-safe for training.
/// </summary>
public sealed class TrainableModel
{
    private sealed record BlockTensors(ParameterTensor AttnNorm, ParameterTensor Q, ParameterTensor K, ParameterTensor V,
        ParameterTensor? QBias, ParameterTensor? KBias, ParameterTensor? VBias,
        ParameterTensor AttnOut, ParameterTensor FfNorm, ParameterTensor FfProj, ParameterTensor UpProj, ParameterTensor FfOut);

    private readonly BlockTensors[] _blocks;
    private readonly ParameterTensor _wte, _lnF, _head;
    private readonly Rope _rope;
    private readonly ActivationTape _tape = new();
    private readonly BackwardBuffers _grad = new();
    private TrainingBatch? _saved;

    /// <summary>The model being trained; its weights are live views of <see cref="Parameters"/>.</summary>
    public Transformer Model { get; }
    public ModelConfig Config => Model.Config;
    public Parameters Parameters { get; } = new();

    /// <summary>Declares and allocates the parameters (zeros) under the config family's names, in checkpoint
    /// order (embedding, blocks, final norm, head); call <see cref="Initialize"/> or fill them by name.</summary>
    /// <exception cref="InvalidDataException">The config does not validate.</exception>
    public TrainableModel(ModelConfig config)
    {
        config.Validate();
        WeightNames n = config.Names;
        int d = config.DModel, q = config.NHeads * config.HeadDim, kv = config.KvHeads * config.HeadDim, f = config.MlpHiddenSize;
        _wte = Parameters.Add(n.Embedding, config.EmbeddingRows, d);
        _blocks = new BlockTensors[config.NLayers];
        for (int i = 0; i < config.NLayers; i++)
        {
            string p = string.Format(n.Block, i);
            _blocks[i] = new BlockTensors(
                Parameters.Add(p + n.AttnNorm, d),
                Parameters.Add(p + n.Q + ".weight", q, d),
                Parameters.Add(p + n.K + ".weight", kv, d),
                Parameters.Add(p + n.V + ".weight", kv, d),
                config.IncludeQkvBias ? Parameters.AddBias(p + n.Q + ".bias", q) : null,
                config.IncludeQkvBias ? Parameters.AddBias(p + n.K + ".bias", kv) : null,
                config.IncludeQkvBias ? Parameters.AddBias(p + n.V + ".bias", kv) : null,
                Parameters.Add(p + n.AttnOut, d, q),
                Parameters.Add(p + n.FfNorm, d),
                Parameters.Add(p + n.Gate, f, d),
                Parameters.Add(p + n.Up, f, d),
                Parameters.Add(p + n.Down, d, f));
        }
        _lnF = Parameters.Add(n.FinalNorm, d);
        _head = config.WeightTying ? _wte : Parameters.Add(n.Head, config.EmbeddingRows, d);
        Parameters.Allocate();
        _rope = new Rope(config.HeadDim, config.MaxSequenceLength, config.RopeTheta);
        Model = new Transformer(config, TransformerWeights.Bind(config,
            (name, rows, cols) => Parameters.Matrix(Parameters[name]),
            (name, length) => Parameters.Memory(Parameters[name])));
    }

    /// <summary>A model initialised with <see cref="Initialize"/>.</summary>
    public static TrainableModel Create(ModelConfig config, int seed)
    {
        var m = new TrainableModel(config);
        m.Initialize(new Random(seed));
        return m;
    }

    /// <summary>Matrices ~ N(0, std²) (std 0.02 as in the reference init), norm weights = 1, biases = 0; gradients zeroed.</summary>
    public void Initialize(Random rng, double std = 0.02)
    {
        foreach (ParameterTensor t in Parameters.Tensors)
        {
            Span<float> v = Parameters.Value(t);
            if (t.IsBias) { v.Clear(); continue; }
            if (!t.IsMatrix) { v.Fill(1f); continue; }
            for (int i = 0; i < v.Length; i++)
            {
                // Box–Muller
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
                v[i] = (float)(std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
            }
        }
        ZeroGrad();
    }

    public void ZeroGrad() => Parameters.ZeroGrad();

    /// <summary>Runs the model's forward with the saving tape and returns Σ w·CE (a float64 sum of float32 terms).</summary>
    /// <exception cref="ArgumentException">The batch is inconsistent (see <see cref="TrainingBatch.Validate"/>) or
    /// needs another attention pattern than the model's config has.</exception>
    public double Forward(TrainingBatch batch)
    {
        batch.Validate(Config.EmbeddingRows, Config.MaxSequenceLength);
        if (batch.Pattern != Config.Pattern)
            throw new ArgumentException($"the batch needs {batch.Pattern} attention; this {Config.Kind} model has {Config.Pattern}");
        int rows = batch.Rows.Length;
        Model.ForwardSaving(batch.Tokens, batch.Batch, batch.Length, batch.Rows, _tape);
        if (_grad.Lse.Length < rows) _grad.Lse = new float[rows];
        _saved = batch;
        return CrossEntropy.Forward(_tape.SelNorm, rows, Parameters.Matrix(_head), batch.Targets, batch.Weights, _grad.Lse);
    }

    /// <summary>
    /// Adds d(scale·loss)/dθ of the last <see cref="Forward"/> into the gradients.
    /// <paramref name="scale"/>: e.g. 1/k when averaging k micro-batches.
    /// </summary>
    /// <exception cref="InvalidOperationException">No forward has run.</exception>
    public void Backward(float scale = 1f)
    {
        TrainingBatch batch = _saved ?? throw new InvalidOperationException("Backward needs a Forward first");
        ActivationTape a = _tape;
        BackwardBuffers g = _grad;
        Parameters P = Parameters;
        ModelConfig c = Config;
        int B = batch.Batch, L = batch.Length, n = B * L, d = c.DModel, rows = batch.Rows.Length;
        int heads = c.NHeads, kvh = c.KvHeads, hd = c.HeadDim, f = c.MlpHiddenSize;
        float eps = (float)c.RmsNormEps;

        // LM head + cross-entropy, then ln_f on the selected rows, scattered back into dx (at the rows
        // the forward read them from: shifted by one for Dream).
        g.Ensure(n, d, heads, kvh, hd, f, rows);
        Span<float> dSel = g.DSel.AsSpan(0, rows * d), dSelIn = g.DSelIn.AsSpan(0, rows * d);
        CrossEntropy.Backward(a.SelNorm, rows, P.Matrix(_head), batch.Targets, batch.Weights, g.Lse, scale, dSel, P.Grad(_head));
        dSelIn.Clear(); // RMSNorm backward adds into its dx
        RmsNormBackward.Backward(a.SelIn, P.Value(_lnF), eps, dSel, dSelIn, P.Grad(_lnF), rows);
        Span<float> dx = g.DX.AsSpan(0, n * d);
        dx.Clear();
        for (int r = 0; r < rows; r++)
        {
            Span<float> dst = dx.Slice(a.SelRows[r] * d, d);
            ReadOnlySpan<float> src = dSelIn.Slice(r * d, d);
            for (int k = 0; k < d; k++) dst[k] += src[k];
        }

        // Overwritten by the kernel that produces them, so never cleared.
        Span<float> dh = g.DH.AsSpan(0, n * d), dAct = g.DAct.AsSpan(0, n * f), dGate = g.DGate.AsSpan(0, n * f), dUp = g.DUp.AsSpan(0, n * f);
        Span<float> dAtt = g.DAtt.AsSpan(0, n * heads * hd), dq = g.DQ.AsSpan(0, n * heads * hd);
        Span<float> dk = g.DK.AsSpan(0, n * kvh * hd), dv = g.DV.AsSpan(0, n * kvh * hd);
        ReadOnlySpan<int> pos = a.Positions.AsSpan(0, n);
        for (int l = c.NLayers - 1; l >= 0; l--)
        {
            BlockTensors w = _blocks[l];
            ActivationTape.Layer s = a.Layers[l];
            // x_out = x_mid + act·Wdownᵀ  (the residual passes dx through unchanged)
            LinearBackward.Backward(s.Act, dx, n, P.Matrix(w.FfOut), dAct, false, P.Grad(w.FfOut));
            SwiGluBackward.Backward(s.Gate.AsSpan(0, n * f), s.Up.AsSpan(0, n * f), dAct, dGate, dUp);
            LinearBackward.Backward(s.H2, dGate, n, P.Matrix(w.FfProj), dh, false, P.Grad(w.FfProj));
            LinearBackward.Backward(s.H2, dUp, n, P.Matrix(w.UpProj), dh, true, P.Grad(w.UpProj));
            RmsNormBackward.Backward(s.XMid, P.Value(w.FfNorm), eps, dh, dx, P.Grad(w.FfNorm), n);
            // x_mid = x_in + Attention(RoPE(h1·Wqᵀ + bq), RoPE(h1·Wkᵀ + bk), h1·Wvᵀ + bv)·Woutᵀ
            LinearBackward.Backward(s.Att, dx, n, P.Matrix(w.AttnOut), dAtt, false, P.Grad(w.AttnOut));
            AttentionBackward.Backward(s.Q, s.K, s.V, s.Probs, dAtt, dq, dk, dv, B, L, heads, kvh, hd);
            _rope.ApplyTranspose(dq, n, heads, pos);
            _rope.ApplyTranspose(dk, n, kvh, pos);
            if (w.QBias is not null) Bias.Backward(dq, n, P.Grad(w.QBias));
            if (w.KBias is not null) Bias.Backward(dk, n, P.Grad(w.KBias));
            if (w.VBias is not null) Bias.Backward(dv, n, P.Grad(w.VBias));
            LinearBackward.Backward(s.H1, dq, n, P.Matrix(w.Q), dh, false, P.Grad(w.Q));
            LinearBackward.Backward(s.H1, dk, n, P.Matrix(w.K), dh, true, P.Grad(w.K));
            LinearBackward.Backward(s.H1, dv, n, P.Matrix(w.V), dh, true, P.Grad(w.V));
            RmsNormBackward.Backward(s.XIn, P.Value(w.AttnNorm), eps, dh, dx, P.Grad(w.AttnNorm), n);
        }
        EmbeddingBackward.ScatterAdd(P.Grad(_wte), d, batch.Tokens, dx);
    }

    /// <summary>Gradients of the activations, reused across steps so a step allocates nothing: dSel,
    /// dSelIn [R × d]; dX, dH [N × d]; dAct, dGate, dUp [N × F]; dAtt, dQ [N × H·hd]; dK, dV [N × Hkv·hd];
    /// and Lse [R], the log-sum-exp of each selected row's logits from the forward.</summary>
    private sealed class BackwardBuffers
    {
        public float[] DSel = [], DSelIn = [], DX = [], DH = [], DAct = [], DGate = [], DUp = [], DAtt = [], DQ = [], DK = [], DV = [], Lse = [];

        public void Ensure(int n, int d, int heads, int kvHeads, int hd, int hidden, int selected)
        {
            ActivationTape.Grow(ref DSel, (long)selected * d); ActivationTape.Grow(ref DSelIn, (long)selected * d);
            ActivationTape.Grow(ref DX, (long)n * d); ActivationTape.Grow(ref DH, (long)n * d);
            ActivationTape.Grow(ref DAct, (long)n * hidden); ActivationTape.Grow(ref DGate, (long)n * hidden); ActivationTape.Grow(ref DUp, (long)n * hidden);
            ActivationTape.Grow(ref DAtt, (long)n * heads * hd); ActivationTape.Grow(ref DQ, (long)n * heads * hd);
            ActivationTape.Grow(ref DK, (long)n * kvHeads * hd); ActivationTape.Grow(ref DV, (long)n * kvHeads * hd);
        }
    }
}
