using System.Numerics.Tensors;
using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>
/// A <see cref="Transformer"/> with float32 parameters, gradients and the backward pass (llm.c
/// style: flat arrays, a hand-written backward per op). The model's weights are views into
/// <see cref="Parameters"/>, so the forward that trains is the forward that samples: this class owns no
/// forward of its own, and the backward walks the same <see cref="TransformerWeights"/> the forward
/// reads. Every tensor the config has trains (Qwen2/Dream's q/k/v biases, Qwen3's q/k norms and o_proj
/// bias included), under every attention pattern, except a mixture of experts' router expert bias: a
/// buffer in the published code, it gets no gradient and keeps its loaded value. The loss:
/// <code>
///   hidden = RMSNorm(x[rows])·ln_f             (Transformer forward with a saving tape)   [R × d]
///   loss   = Σ_r w_r·CE(hidden_r · Wheadᵀ, target_r)                                      scalar
/// </code>
/// plus, for a mixture-of-experts model, the load-balancing loss (<see cref="LoadBalancingLoss"/>,
/// weighted by router_aux_loss_coef; <see cref="AuxiliaryLoss"/>).
/// <see cref="Forward"/> runs it and keeps the tape; <see cref="Backward"/> adds the gradients into
/// <see cref="Parameters.Grads"/> (zero them with <see cref="ZeroGrad"/>; not zeroing accumulates over
/// micro-batches). Sampling from <see cref="Model"/> between Forward and Backward is harmless (it uses
/// other buffers). Not thread-safe for training.
/// </summary>
public sealed class TrainableModel
{
    private readonly Rope _rope;
    private readonly ActivationTape _tape = new();
    private readonly BackwardBuffers _grad = new();
    private readonly MixtureOfExpertsBackward _moe = new();
    private float[] _dAux = [], _dAuxScaled = [];
    private TrainingBatch? _saved;
    private (int Batch, int Length, int Rows)? _savedInputs; // the last forward was ForwardInputs: its shape

    /// <summary>The model being trained; its weights are live views of <see cref="Parameters"/>.</summary>
    public Transformer Model { get; }
    public ModelConfig Config => Model.Config;
    public Parameters Parameters { get; } = new();

    /// <summary>Declares and allocates the parameters (zeros) under the config family's names, in checkpoint
    /// order; call <see cref="Initialize"/> or fill them by name.</summary>
    /// <exception cref="InvalidDataException">The config does not validate.</exception>
    public TrainableModel(ModelConfig config)
    {
        config.Validate();
        // Declare every tensor the weights bind (first pass), allocate, then bind the views (second pass).
        TransformerWeights.Bind(config,
            (name, rows, cols) => { Parameters.Add(name, rows, cols); return default; },
            (name, length) => { Parameters.Add(name, length); return default; },
            (name, length) => { Parameters.AddBias(name, length); return default; });
        // Values, gradients and AdamW's two moments: 16 bytes a parameter, before any activation.
        IO.MemoryBudget.Require(Parameters.DeclaredCount * 16.0, $"training a model of {Parameters.DeclaredCount:N0} parameters (float32 values, gradients and AdamW moments)");
        Parameters.Allocate();
        ReadOnlyMemory<float> Vector(string name, int length) => Parameters.Memory(Parameters[name]);
        Model = new Transformer(config, TransformerWeights.Bind(config, (name, rows, cols) => Parameters.Matrix(Parameters[name]), Vector, Vector));
        _rope = new Rope(config.HeadDim, config.MaxSequenceLength, config.RopeTheta, config.RopeDim);
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
            Gaussian.Fill(v, rng, std);
        }
        ZeroGrad();
    }

    public void ZeroGrad() => Parameters.ZeroGrad();

    /// <summary>
    /// The continuous families' embedding init: wte ~ N(0, 1) (PyTorch's nn.Embedding default, which Diffusion-LM's
    /// code keeps). With the 0.02 of <see cref="Initialize"/> the words would sit far below the diffusion noise
    /// even at t = 0 (σ₀ ≈ 0.1) and below the unit-scale time embedding added to every input row.
    /// </summary>
    public void InitializeContinuousEmbeddings(Random rng)
        => Gaussian.Fill(Parameters.Value(Parameters[Config.Names.Embedding]), rng);

    /// <summary>The activations of the last <see cref="Forward"/> (the routing of a mixture of experts, for tests).</summary>
    internal ActivationTape Tape => _tape;

    /// <summary>The weighted load-balancing loss the last <see cref="Forward"/> added (0 for a dense model).</summary>
    public double AuxiliaryLoss { get; private set; }

    /// <summary>Runs the model's forward with the saving tape and returns Σ w·CE (a float64 sum of float32 terms),
    /// plus <see cref="AuxiliaryLoss"/> for a mixture-of-experts model.</summary>
    /// <exception cref="ArgumentException">The batch is inconsistent (see <see cref="TrainingBatch.Validate"/>) or
    /// needs another attention pattern than the model's config has.</exception>
    public double Forward(TrainingBatch batch)
    {
        batch.Validate(Config.EmbeddingRows, Config.MaxSequenceLength);
        if (!batch.Pattern.Trains(Config.Pattern))
            throw new ArgumentException($"the batch needs {batch.Pattern} attention; this {Config.KindName} model has {Config.Pattern}");
        int rows = batch.Rows.Length;
        Model.ForwardSaving(batch.Tokens, batch.Batch, batch.Length, batch.Rows, _tape, trainingView: batch.Pattern);
        if (_grad.Lse.Length < rows) _grad.Lse = new float[rows];
        _saved = batch; _savedInputs = null;
        double loss = CrossEntropy.Forward(_tape.SelNorm, rows, Model.Weights.Head, batch.Targets, batch.Weights, _grad.Lse);
        AuxiliaryLoss = 0;
        if (Config.Moe is MoeConfig m)
        {
            if (_dAux.Length != m.Experts) { _dAux = new float[m.Experts]; _dAuxScaled = new float[m.Experts]; }
            if (m.Router != RouterScoring.LladaMoeSoftmax)
            {
                // The load-balancing loss below is the softmax router's (over p); LLaDA2 balances through the expert
                // bias, a buffer updated outside the gradient, so its router trains without an auxiliary loss.
                if (m.AuxLossCoef != 0)
                    throw new NotSupportedException($"the {m.Router} router has no load-balancing loss; set AuxLossCoef to 0");
                Array.Clear(_dAux);
                return loss;
            }
            var probs = new List<float[]>();
            for (int l = 0; l < Config.NLayers; l++)
                if (m.IsMoeLayer(l)) probs.Add(_tape.Layers[l].Moe!.Probs);
            AuxiliaryLoss = LoadBalancingLoss.Forward(probs, batch.Batch * batch.Length, m.Experts, m.TopK, m.AuxLossCoef, _dAux);
        }
        return loss + AuxiliaryLoss;
    }

    /// <summary>
    /// Adds d(scale·loss)/dθ of the last <see cref="Forward"/> into the gradients.
    /// <paramref name="scale"/>: e.g. 1/k when averaging k micro-batches.
    /// </summary>
    /// <exception cref="InvalidOperationException">No forward has run.</exception>
    public void Backward(float scale = 1f)
    {
        TrainingBatch batch = _saved ?? throw new InvalidOperationException("Backward needs a Forward first");
        int rows = batch.Rows.Length, d = Config.DModel;
        // LM head + cross-entropy, then the rest of the model from the selected rows' gradient.
        _grad.Ensure(batch.Batch * batch.Length, d, Config.NHeads, Config.KvHeads, Config.HeadDim, Config.DenseMlpHidden, rows);
        Span<float> dSel = _grad.DSel.AsSpan(0, rows * d);
        CrossEntropy.Backward(_tape.SelNorm, rows, Model.Weights.Head, batch.Targets, batch.Weights, _grad.Lse, scale, dSel, Parameters.GradOf(Model.Weights.Head));
        ReadOnlySpan<float> dx = BackwardFromSelected(dSel, batch.Batch, batch.Length, rows, scale);
        EmbeddingBackward.ScatterAdd(Parameters.GradOf(Model.Weights.Embedding), d, batch.Tokens, dx);
    }

    /// <summary>
    /// The continuous families' training forward (Diffusion-LM, DiffuSeq, SSD-LM): the model's forward from
    /// input vectors [batch·length × d] (<see cref="Transformer.HiddenFromInputs"/>) with the saving tape.
    /// Returns RMSNorm(x[rows])·ln_f [R × d] of the flat rows <paramref name="rows"/>, valid until the next
    /// forward: the objective computes its loss from it (an x0 prediction, or logits through the head).
    /// </summary>
    /// <exception cref="ArgumentException">Sizes that do not match (see <see cref="Transformer.HiddenFromInputs"/>),
    /// or a model whose attention is not bidirectional.</exception>
    public ReadOnlySpan<float> ForwardInputs(ReadOnlySpan<float> inputs, int batch, int length, ReadOnlySpan<int> rows)
    {
        Model.CheckInputs(inputs, batch, length, rows);
        if (Config.Pattern != AttentionPattern.Bidirectional)
            throw new ArgumentException($"continuous inputs need bidirectional attention; this {Config.KindName} model has {Config.AttentionName}");
        Model.ForwardSavingInputs(inputs, batch, length, rows, _tape);
        _saved = null; _savedInputs = (batch, length, rows.Length);
        AuxiliaryLoss = 0;
        return _tape.SelNorm.AsSpan(0, rows.Length * Config.DModel);
    }

    /// <summary>
    /// Backward of the last <see cref="ForwardInputs"/>: given dLoss/d(hidden of the selected rows) [R × d]
    /// (the objective has already scaled it), adds every weight's gradient (ln_f and the blocks; the head and
    /// the embedding only through what the objective does with them) and returns dLoss/d(inputs)
    /// [batch·length × d], valid until the next backward: the objective chains it into whatever built the inputs.
    /// </summary>
    /// <exception cref="InvalidOperationException">The last forward was not <see cref="ForwardInputs"/>.</exception>
    public ReadOnlySpan<float> BackwardInputs(ReadOnlySpan<float> dHidden)
    {
        var (batch, length, rows) = _savedInputs ?? throw new InvalidOperationException("BackwardInputs needs ForwardInputs first");
        int d = Config.DModel;
        if (dHidden.Length != rows * d) throw new ArgumentException($"dHidden has {dHidden.Length} floats, expected {rows}x{d}");
        _grad.Ensure(batch * length, d, Config.NHeads, Config.KvHeads, Config.HeadDim, Config.DenseMlpHidden, rows);
        Span<float> dSel = _grad.DSel.AsSpan(0, rows * d);
        dHidden.CopyTo(dSel);
        return BackwardFromSelected(dSel, batch, length, rows, 1f);
    }

    /// <summary>From dLoss/d(final-normed selected rows) [R × d] back through ln_f and every block; returns
    /// dLoss/d(the first block's input) [batch·length × d] (in a reused buffer).</summary>
    private Span<float> BackwardFromSelected(ReadOnlySpan<float> dSel, int B, int L, int rows, float scale)
    {
        ActivationTape a = _tape;
        BackwardBuffers g = _grad;
        Parameters P = Parameters;
        TransformerWeights W = Model.Weights;
        ModelConfig c = Config;
        int n = B * L, d = c.DModel;
        int heads = c.NHeads, kvh = c.KvHeads, hd = c.HeadDim, f = c.DenseMlpHidden;
        float eps = (float)c.RmsNormEps;

        // ln_f on the selected rows, scattered back into dx (at the rows the forward read them from:
        // shifted by one for Dream).
        Span<float> dSelIn = g.DSelIn.AsSpan(0, rows * d);
        dSelIn.Clear(); // RMSNorm backward adds into its dx
        RmsNormBackward.Backward(a.SelIn, W.FinalNorm.Span, eps, dSel, dSelIn, P.GradOf(W.FinalNorm), rows);
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
            BlockWeights w = W.Blocks[l];
            ActivationTape.Layer s = a.Layers[l];
            // x_out = x_mid + act·Wdownᵀ (or + MoE(h2))  (the residual passes dx through unchanged)
            if (w.Moe is MoeWeights moe)
            {
                TensorPrimitives.Multiply(_dAux, scale, _dAuxScaled);
                _moe.Backward(moe, c.Moe!, s.Moe!, s.H2.AsSpan(0, n * d), dx, dh, n, d, _dAuxScaled, P);
            }
            else
            {
                LinearBackward.Backward(s.Act, dx, n, w.FfOut, dAct, false, P.GradOf(w.FfOut));
                SwiGluBackward.Backward(s.Gate.AsSpan(0, n * f), s.Up.AsSpan(0, n * f), dAct, dGate, dUp);
                LinearBackward.Backward(s.H2, dGate, n, w.FfProj, dh, false, P.GradOf(w.FfProj));
                LinearBackward.Backward(s.H2, dUp, n, w.UpProj, dh, true, P.GradOf(w.UpProj));
            }
            RmsNormBackward.Backward(s.XMid, w.FfNorm.Span, eps, dh, dx, P.GradOf(w.FfNorm), n);
            // x_mid = x_in + Attention(RoPE(h1·Wqᵀ + bq), RoPE(h1·Wkᵀ + bk), h1·Wvᵀ + bv)·Woutᵀ
            if (!w.OutBias.IsEmpty) Bias.Backward(dx, n, P.GradOf(w.OutBias));
            LinearBackward.Backward(s.Att, dx, n, w.AttnOut, dAtt, false, P.GradOf(w.AttnOut));
            AttentionBackward.Backward(s.Q, s.K, s.V, s.Probs, dAtt, dq, dk, dv, B, L, heads, kvh, hd);
            _rope.ApplyTranspose(dq, n, heads, pos);
            _rope.ApplyTranspose(dk, n, kvh, pos);
            // Qwen3: back through q_norm / k_norm (per head) to the projections' outputs.
            Span<float> dqProj = w.QNorm.IsEmpty ? dq : HeadNormBackward(s.QRaw, w.QNorm, dq, ref g.DQRaw, n * heads, eps);
            Span<float> dkProj = w.KNorm.IsEmpty ? dk : HeadNormBackward(s.KRaw, w.KNorm, dk, ref g.DKRaw, n * kvh, eps);
            if (!w.QBias.IsEmpty) Bias.Backward(dqProj, n, P.GradOf(w.QBias));
            if (!w.KBias.IsEmpty) Bias.Backward(dkProj, n, P.GradOf(w.KBias));
            if (!w.VBias.IsEmpty) Bias.Backward(dv, n, P.GradOf(w.VBias));
            LinearBackward.Backward(s.H1, dqProj, n, w.Q, dh, false, P.GradOf(w.Q));
            LinearBackward.Backward(s.H1, dkProj, n, w.K, dh, true, P.GradOf(w.K));
            LinearBackward.Backward(s.H1, dv, n, w.V, dh, true, P.GradOf(w.V));
            RmsNormBackward.Backward(s.XIn, w.AttnNorm.Span, eps, dh, dx, P.GradOf(w.AttnNorm), n);
        }
        return dx;
    }

    /// <summary>
    /// Backward of the per-head RMSNorm y = RMSNorm(x)·w over <paramref name="rows"/> = N·heads rows of hd
    /// (<paramref name="input"/>: x saved by the forward): adds into w's gradient and returns dx, written
    /// into <paramref name="buffer"/> (grown as needed).
    /// </summary>
    private Span<float> HeadNormBackward(ReadOnlySpan<float> input, ReadOnlyMemory<float> weight, ReadOnlySpan<float> dy,
        ref float[] buffer, int rows, float eps)
    {
        int size = rows * weight.Length;
        ActivationTape.Grow(ref buffer, size);
        Span<float> dx = buffer.AsSpan(0, size);
        dx.Clear(); // RMSNorm backward adds into its dx
        RmsNormBackward.Backward(input[..size], weight.Span, eps, dy[..size], dx, Parameters.GradOf(weight), rows);
        return dx;
    }

    /// <summary>Gradients of the activations, reused across steps so a step allocates nothing: dSel,
    /// dSelIn [R × d]; dX, dH [N × d]; dAct, dGate, dUp [N × F]; dAtt, dQ [N × H·hd]; dK, dV [N × Hkv·hd];
    /// and Lse [R], the log-sum-exp of each selected row's logits from the forward; DQRaw [N × H·hd],
    /// DKRaw [N × Hkv·hd] before Qwen3's q/k norms (grown on first use).</summary>
    private sealed class BackwardBuffers
    {
        public float[] DSel = [], DSelIn = [], DX = [], DH = [], DAct = [], DGate = [], DUp = [], DAtt = [], DQ = [], DK = [], DV = [], Lse = [];
        public float[] DQRaw = [], DKRaw = [];

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
