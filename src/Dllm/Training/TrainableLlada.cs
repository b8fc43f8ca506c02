using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>
/// A LLaDA-architecture transformer with float32 parameters and gradients (llm.c style: flat
/// arrays, hand-written forward/backward per op). The forward is the one of
/// <see cref="LladaModel"/> (same kernels, same op order, hence the same logits for the same
/// weights) with an <see cref="AttentionPattern"/> parameter:
/// <code>
///   x = wte[tokens]                                                       [N × d]
///   per block: h1 = RMSNorm(x)·attn_norm; q,k,v = h1·W{q,k,v}ᵀ; q,k = RoPE(q,k)
///              x += Attention(q,k,v; pattern)·Woutᵀ
///              h2 = RMSNorm(x)·ff_norm; x += (SiLU(h2·Wgateᵀ) ⊙ h2·Wupᵀ)·Wdownᵀ
///   loss = Σ_r w_r·CE(RMSNorm(x[row_r])·ln_f · Wheadᵀ, target_r)
/// </code>
/// <see cref="Forward"/> saves every activation the backward needs; <see cref="Backward"/> adds the
/// gradients into <see cref="Parameters.Grads"/> (zero them with <see cref="ZeroGrad"/>; not zeroing
/// accumulates over micro-batches). As an <see cref="IDenoisingModel"/> it samples with the
/// bidirectional pattern and saves nothing, so sampling between Forward and Backward is harmless.
/// Not thread-safe for training; <see cref="Logits(ReadOnlySpan{int}, int, int, ReadOnlySpan{int}, Span{float}, ReadOnlySpan{byte})"/> takes a lock.
/// </summary>
public sealed class TrainableLlada : IDenoisingModel
{
    private const string Prefix = "model.transformer.";

    private sealed record BlockTensors(ParameterTensor AttnNorm, ParameterTensor Q, ParameterTensor K, ParameterTensor V,
        ParameterTensor AttnOut, ParameterTensor FfNorm, ParameterTensor FfProj, ParameterTensor UpProj, ParameterTensor FfOut);

    private readonly BlockTensors[] _blocks;
    private readonly ParameterTensor _wte, _lnF, _head;
    private readonly Rope _rope;
    private readonly Activations _train = new(), _infer = new();
    private readonly object _inferGate = new();
    private TrainingBatch? _saved;

    public TransformerShape Shape { get; }
    public Parameters Parameters { get; } = new();
    public int VocabSize => Shape.Vocab;
    public int MaxSequenceLength => Shape.MaxSeq;

    /// <summary>Declares and allocates the parameters (zeros); call <see cref="Initialize"/> or fill them by name.</summary>
    public TrainableLlada(TransformerShape shape)
    {
        shape.Validate();
        Shape = shape;
        int d = shape.DModel, q = shape.NHeads * shape.HeadDim, kv = shape.NKvHeads * shape.HeadDim, f = shape.MlpHidden;
        _wte = Parameters.Add(Prefix + "wte.weight", shape.Vocab, d);
        _blocks = new BlockTensors[shape.NLayers];
        for (int i = 0; i < shape.NLayers; i++)
        {
            string p = $"{Prefix}blocks.{i}.";
            _blocks[i] = new BlockTensors(
                Parameters.Add(p + "attn_norm.weight", d),
                Parameters.Add(p + "q_proj.weight", q, d),
                Parameters.Add(p + "k_proj.weight", kv, d),
                Parameters.Add(p + "v_proj.weight", kv, d),
                Parameters.Add(p + "attn_out.weight", d, q),
                Parameters.Add(p + "ff_norm.weight", d),
                Parameters.Add(p + "ff_proj.weight", f, d),
                Parameters.Add(p + "up_proj.weight", f, d),
                Parameters.Add(p + "ff_out.weight", d, f));
        }
        _lnF = Parameters.Add(Prefix + "ln_f.weight", d);
        _head = shape.WeightTying ? _wte : Parameters.Add(Prefix + "ff_out.weight", shape.Vocab, d);
        Parameters.Allocate();
        _rope = new Rope(shape.HeadDim, shape.MaxSeq, shape.RopeTheta);
    }

    /// <summary>A model initialised with <see cref="Initialize"/>.</summary>
    public static TrainableLlada Create(TransformerShape shape, int seed)
    {
        var m = new TrainableLlada(shape);
        m.Initialize(new Random(seed));
        return m;
    }

    /// <summary>Matrices ~ N(0, std²) (std 0.02 as in the reference init), norm weights = 1; gradients zeroed.</summary>
    public void Initialize(Random rng, double std = 0.02)
    {
        foreach (ParameterTensor t in Parameters.Tensors)
        {
            Span<float> v = Parameters.Value(t);
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

    /// <summary>Views of the parameters in the inference layout, for <see cref="LladaModel"/>
    /// (norm weights are copies, matrices are live views).</summary>
    public LladaWeights ToLladaWeights() => new()
    {
        Embedding = Parameters.Matrix(_wte),
        Blocks = _blocks.Select(b => new LladaBlockWeights
        {
            AttnNorm = Parameters.Value(b.AttnNorm).ToArray(),
            Q = Parameters.Matrix(b.Q), K = Parameters.Matrix(b.K), V = Parameters.Matrix(b.V),
            AttnOut = Parameters.Matrix(b.AttnOut),
            FfNorm = Parameters.Value(b.FfNorm).ToArray(),
            FfProj = Parameters.Matrix(b.FfProj), UpProj = Parameters.Matrix(b.UpProj), FfOut = Parameters.Matrix(b.FfOut),
        }).ToArray(),
        FinalNorm = Parameters.Value(_lnF).ToArray(),
        Head = Parameters.Matrix(_head),
    };

    /// <summary>Runs the forward pass, saves the activations and returns Σ w·CE (a float64 sum of float32 terms).</summary>
    /// <exception cref="ArgumentException">The batch is inconsistent (see <see cref="TrainingBatch.Validate"/>).</exception>
    public double Forward(TrainingBatch batch)
    {
        batch.Validate(Shape.Vocab, Shape.MaxSeq);
        Activations a = _train;
        int n = batch.Batch * batch.Length, d = Shape.DModel, rows = batch.Rows.Length;
        a.Ensure(Shape.NLayers, n, batch.Batch, batch.Length, d, Shape.NHeads, Shape.NKvHeads, Shape.HeadDim,
            Shape.MlpHidden, rows, saveProbs: true);
        Span<float> x = RunBlocks(batch.Tokens, batch.Batch, batch.Length, batch.Pattern, default, a, train: true);
        for (int r = 0; r < rows; r++) x.Slice(batch.Rows[r] * d, d).CopyTo(a.SelIn.AsSpan(r * d, d));
        RmsNorm.Forward(a.SelIn, Parameters.Value(_lnF), (float)Shape.Eps, a.SelNorm, rows);
        _saved = batch;
        return CrossEntropy.Forward(a.SelNorm, rows, Parameters.Matrix(_head), batch.Targets, batch.Weights, a.Lse);
    }

    /// <summary>
    /// Adds d(scale·loss)/dθ of the last <see cref="Forward"/> into the gradients.
    /// <paramref name="scale"/>: e.g. 1/k when averaging k micro-batches.
    /// </summary>
    /// <exception cref="InvalidOperationException">No forward has run.</exception>
    public void Backward(float scale = 1f)
    {
        TrainingBatch batch = _saved ?? throw new InvalidOperationException("Backward needs a Forward first");
        Activations a = _train;
        Parameters P = Parameters;
        int B = batch.Batch, L = batch.Length, n = B * L, d = Shape.DModel, rows = batch.Rows.Length;
        int heads = Shape.NHeads, kvh = Shape.NKvHeads, hd = Shape.HeadDim, f = Shape.MlpHidden;
        float eps = (float)Shape.Eps;

        // LM head + cross-entropy, then ln_f on the selected rows, scattered back into dx.
        a.EnsureGradients(n, d, heads, kvh, hd, f, rows);
        Span<float> dSel = a.DSel.AsSpan(0, rows * d), dSelIn = a.DSelIn.AsSpan(0, rows * d);
        CrossEntropy.Backward(a.SelNorm, rows, P.Matrix(_head), batch.Targets, batch.Weights, a.Lse, scale, dSel, P.Grad(_head));
        dSelIn.Clear(); // RMSNorm backward adds into its dx
        RmsNormBackward.Backward(a.SelIn, P.Value(_lnF), eps, dSel, dSelIn, P.Grad(_lnF), rows);
        Span<float> dx = a.DX.AsSpan(0, n * d);
        dx.Clear();
        for (int r = 0; r < rows; r++)
        {
            Span<float> dst = dx.Slice(batch.Rows[r] * d, d);
            ReadOnlySpan<float> src = dSelIn.Slice(r * d, d);
            for (int k = 0; k < d; k++) dst[k] += src[k];
        }

        // Overwritten by the kernel that produces them, so never cleared.
        Span<float> dh = a.DH.AsSpan(0, n * d), dAct = a.DAct.AsSpan(0, n * f), dGate = a.DGate.AsSpan(0, n * f), dUp = a.DUp.AsSpan(0, n * f);
        Span<float> dAtt = a.DAtt.AsSpan(0, n * heads * hd), dq = a.DQ.AsSpan(0, n * heads * hd);
        Span<float> dk = a.DK.AsSpan(0, n * kvh * hd), dv = a.DV.AsSpan(0, n * kvh * hd);
        ReadOnlySpan<int> pos = a.Positions.AsSpan(0, n);
        for (int l = Shape.NLayers - 1; l >= 0; l--)
        {
            BlockTensors w = _blocks[l];
            Activations.Layer s = a.Layers[l];
            // x_out = x_mid + act·Wdownᵀ  (the residual passes dx through unchanged)
            LinearBackward.Backward(s.Act, dx, n, P.Matrix(w.FfOut), dAct, false, P.Grad(w.FfOut));
            SwiGluBackward.Backward(s.Gate.AsSpan(0, n * f), s.Up.AsSpan(0, n * f), dAct, dGate, dUp);
            LinearBackward.Backward(s.H2, dGate, n, P.Matrix(w.FfProj), dh, false, P.Grad(w.FfProj));
            LinearBackward.Backward(s.H2, dUp, n, P.Matrix(w.UpProj), dh, true, P.Grad(w.UpProj));
            RmsNormBackward.Backward(s.XMid, P.Value(w.FfNorm), eps, dh, dx, P.Grad(w.FfNorm), n);
            // x_mid = x_in + Attention(RoPE(q), RoPE(k), v)·Woutᵀ
            LinearBackward.Backward(s.Att, dx, n, P.Matrix(w.AttnOut), dAtt, false, P.Grad(w.AttnOut));
            AttentionBackward.Backward(s.Q, s.K, s.V, s.Probs, dAtt, dq, dk, dv, B, L, heads, kvh, hd);
            _rope.ApplyTranspose(dq, n, heads, pos);
            _rope.ApplyTranspose(dk, n, kvh, pos);
            LinearBackward.Backward(s.H1, dq, n, P.Matrix(w.Q), dh, false, P.Grad(w.Q));
            LinearBackward.Backward(s.H1, dk, n, P.Matrix(w.K), dh, true, P.Grad(w.K));
            LinearBackward.Backward(s.H1, dv, n, P.Matrix(w.V), dh, true, P.Grad(w.V));
            RmsNormBackward.Backward(s.XIn, P.Value(w.AttnNorm), eps, dh, dx, P.Grad(w.AttnNorm), n);
        }
        EmbeddingBackward.ScatterAdd(P.Grad(_wte), d, batch.Tokens, dx);
    }

    /// <inheritdoc/>
    public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default)
        => Logits(tokens, batch, length, positions, logits, AttentionPattern.Bidirectional, keyMask);

    /// <summary>As <see cref="IDenoisingModel.Logits"/> with an attention pattern (Causal for an AR model).</summary>
    public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, AttentionPattern pattern, ReadOnlySpan<byte> keyMask = default)
    {
        if (batch <= 0 || length <= 0) throw new ArgumentException($"empty batch: batch={batch}, length={length}");
        if (length > Shape.MaxSeq) throw new ArgumentException($"sequence of {length} tokens exceeds max_sequence_length {Shape.MaxSeq}");
        if (tokens.Length != batch * length) throw new ArgumentException($"tokens has {tokens.Length} ids, expected {batch * length}");
        foreach (int t in tokens) if ((uint)t >= (uint)Shape.Vocab) throw new ArgumentException($"token id {t} is outside the vocabulary [0, {Shape.Vocab})");
        foreach (int p in positions) if ((uint)p >= (uint)length) throw new ArgumentException($"logit position {p} is outside the canvas [0, {length})");
        if (logits.Length < (long)batch * positions.Length * Shape.Vocab)
            throw new ArgumentException($"logits span has {logits.Length} floats, need {batch}x{positions.Length}x{Shape.Vocab}");
        if (!keyMask.IsEmpty && keyMask.Length != batch * length)
            throw new ArgumentException($"key mask has {keyMask.Length} entries, expected {batch * length}");
        lock (_inferGate)
        {
            Activations a = _infer;
            int n = batch * length, d = Shape.DModel, rows = batch * positions.Length;
            a.Ensure(1, n, batch, length, d, Shape.NHeads, Shape.NKvHeads, Shape.HeadDim, Shape.MlpHidden, rows, saveProbs: false);
            Span<float> x = RunBlocks(tokens, batch, length, pattern, keyMask, a, train: false);
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < positions.Length; i++)
                    x.Slice((b * length + positions[i]) * d, d).CopyTo(a.SelNorm.AsSpan((b * positions.Length + i) * d, d));
            RmsNorm.Forward(a.SelNorm, Parameters.Value(_lnF), (float)Shape.Eps, a.SelNorm, rows);
            Gemm.LinearForward(a.SelNorm, rows, Parameters.Matrix(_head), logits[..(rows * Shape.Vocab)]);
        }
    }

    /// <summary>The block stack. train: every layer keeps its own buffers and the attention
    /// probabilities; otherwise layer 0's buffers are reused and x is updated in place.
    /// Returns the final residual stream [N × d].</summary>
    private Span<float> RunBlocks(ReadOnlySpan<int> tokens, int batch, int len, AttentionPattern pattern,
        ReadOnlySpan<byte> keyMask, Activations a, bool train)
    {
        Parameters P = Parameters;
        int n = batch * len, d = Shape.DModel, heads = Shape.NHeads, kvh = Shape.NKvHeads, hd = Shape.HeadDim, f = Shape.MlpHidden;
        float eps = (float)Shape.Eps;
        ReadOnlySpan<int> pos = a.Positions.AsSpan(0, n);
        Span<float> x = (train && Shape.NLayers == 0 ? a.XOut : a.Layers[0].XIn).AsSpan(0, n * d);
        Embedding.Gather(P.Matrix(_wte), tokens, x);
        for (int l = 0; l < Shape.NLayers; l++)
        {
            BlockTensors w = _blocks[l];
            Activations.Layer s = a.Layers[train ? l : 0];
            Span<float> h1 = s.H1.AsSpan(0, n * d), q = s.Q.AsSpan(0, n * heads * hd), att = s.Att.AsSpan(0, n * heads * hd);
            Span<float> k = s.K.AsSpan(0, n * kvh * hd), v = s.V.AsSpan(0, n * kvh * hd);
            RmsNorm.Forward(x, P.Value(w.AttnNorm), eps, h1, n);
            Gemm.LinearForward(h1, n, P.Matrix(w.Q), q);
            Gemm.LinearForward(h1, n, P.Matrix(w.K), k);
            Gemm.LinearForward(h1, n, P.Matrix(w.V), v);
            _rope.Apply(q, n, heads, pos);
            _rope.Apply(k, n, kvh, pos);
            Attention.Forward(q, k, v, att, batch, len, heads, kvh, hd, pattern, keyMask,
                train ? s.Probs.AsSpan(0, batch * heads * len * len) : default);
            if (train) { x.CopyTo(s.XMid); x = s.XMid.AsSpan(0, n * d); }
            Gemm.LinearForward(att, n, P.Matrix(w.AttnOut), x, accumulate: true);

            Span<float> h2 = s.H2.AsSpan(0, n * d), gate = s.Gate.AsSpan(0, n * f), up = s.Up.AsSpan(0, n * f), act = s.Act.AsSpan(0, n * f);
            RmsNorm.Forward(x, P.Value(w.FfNorm), eps, h2, n);
            Gemm.LinearForward(h2, n, P.Matrix(w.FfProj), gate);
            Gemm.LinearForward(h2, n, P.Matrix(w.UpProj), up);
            SwiGlu.Forward(gate, up, act); // gate is kept for the backward
            if (train)
            {
                Span<float> next = (l + 1 < Shape.NLayers ? a.Layers[l + 1].XIn : a.XOut).AsSpan(0, n * d);
                x.CopyTo(next);
                x = next;
            }
            Gemm.LinearForward(act, n, P.Matrix(w.FfOut), x, accumulate: true);
        }
        return x;
    }
}
