using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>One draw of SSD-LM's forward process for a batch: the clean canvases, how many leading
/// tokens are clean context (the same for the whole batch), each sequence's timestep and the noise.</summary>
/// <param name="Tokens">[Batch × Length] clean ids; rows [Context, Length) form the noised block.</param>
/// <param name="Batch">Sequences.</param>
/// <param name="Length">Rows per sequence: the context and the block.</param>
/// <param name="Context">Leading clean rows of every sequence (0..Length − 1).</param>
/// <param name="T">[Batch] timestep of each sequence, 0..T−1.</param>
/// <param name="Eps">[Batch × (Length − Context) × V] standard normal noise of the block's logits (scaled by K when used).</param>
public sealed record SimplexDiffusionDraw(int[] Tokens, int Batch, int Length, int Context, int[] T, float[] Eps);

/// <summary>
/// SSD-LM's objective (Han et al. 2022, arXiv 2210.17432, §3.1–3.2): diffusion on almost-one-hot simplex
/// representations of the vocabulary, one semi-autoregressive block at a time. For a canvas of a clean
/// context (c tokens) and a block (the rest), V = embedding rows, K = simplex_k:
/// <code>
///   w̃_i   = K·(2·onehot(w_i) − 1)                               the almost-one-hot logits       [V]
///   S_i   = w̃_i (context),  √ᾱ_t·w̃_i + √(1 − ᾱ_t)·K·ε_i (block)   ε ~ N(0, I)
///   in_i  = softmax(S_i)·EMB + emb(t)                             (<see cref="TimeEmbedding"/>)    [d]
///   loss  = Σ_{block i} −log softmax(Head·RMSNorm(Transformer(in))_i·ln_f)[w_i] / (B·block)
/// </code>
/// The gradient reaches EMB through the inputs (softmax(S)ᵀ·dLoss/d in). The paper trains a RoBERTa with
/// the context prepended; here the one transformer with bidirectional attention sees context and block.
/// </summary>
public sealed class SimplexDiffusionObjective
{
    public NoiseSchedule Schedule { get; }
    /// <summary>K of the almost-one-hot representation.</summary>
    public double K { get; }
    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }

    /// <exception cref="ArgumentOutOfRangeException">K not positive or a block size below 1.</exception>
    public SimplexDiffusionObjective(NoiseSchedule schedule, double k, int blockSize)
    {
        if (!(k > 0) || !double.IsFinite(k)) throw new ArgumentOutOfRangeException(nameof(k), k, "simplex K must be a finite positive number");
        if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "block size must be positive");
        Schedule = schedule; K = k; BlockSize = blockSize;
    }

    /// <summary>
    /// Cuts a [batch × length] clean batch to context + one block: the context length c ~ U{0..length − block}
    /// (one draw for the batch), then per sequence t ~ U{0..T−1} and the block's noise, in that order.
    /// </summary>
    /// <exception cref="ArgumentException">Sizes that do not match, or a length shorter than the block.</exception>
    public SimplexDiffusionDraw Sample(ReadOnlySpan<int> clean, int batch, int length, int vocab, Random rng)
    {
        if (clean.Length != batch * length) throw new ArgumentException($"clean has {clean.Length} ids, expected {batch}x{length}");
        if (length < BlockSize) throw new ArgumentException($"sequences of {length} tokens are shorter than one block of {BlockSize}");
        int c = rng.Next(0, length - BlockSize + 1), len = c + BlockSize;
        var tokens = new int[batch * len];
        for (int b = 0; b < batch; b++) clean.Slice(b * length, len).CopyTo(tokens.AsSpan(b * len, len));
        var t = new int[batch];
        var eps = new float[batch * BlockSize * vocab];
        for (int b = 0; b < batch; b++)
        {
            t[b] = rng.Next(Schedule.Steps);
            Gaussian.Fill(eps.AsSpan(b * BlockSize * vocab, BlockSize * vocab), rng);
        }
        return new SimplexDiffusionDraw(tokens, batch, len, c, t, eps);
    }

    /// <summary>
    /// The block's mean cross-entropy (nats/token) and, with <paramref name="backward"/>, the gradient of
    /// scale·loss added into the model's gradients.
    /// </summary>
    /// <exception cref="ArgumentException">The draw is inconsistent (sizes, ids, timesteps).</exception>
    public double Loss(TrainableModel model, SimplexDiffusionDraw draw, float scale = 1f, bool backward = true)
    {
        ModelConfig cfg = model.Config;
        int B = draw.Batch, L = draw.Length, n = B * L, d = cfg.DModel, V = cfg.EmbeddingRows, block = L - draw.Context;
        Check(draw, block, V);
        var probs = new float[n * V];
        for (int r = 0; r < n; r++)
        {
            int b = r / L, i = r % L;
            Span<float> s = probs.AsSpan(r * V, V);
            Simplex(draw.Tokens[r], K, s);
            if (i >= draw.Context)
                Noise(s, draw.Eps.AsSpan((b * block + i - draw.Context) * V, V), Schedule.AlphaBar(draw.T[b]), K);
            Softmax.InPlace(s);
        }
        var inputs = new float[n * d];
        MixEmbeddings(probs, n, model.Model.Weights.Embedding, inputs);
        for (int b = 0; b < B; b++) TimeEmbedding.AddTo(inputs.AsSpan(b * L * d, L * d), L, d, draw.T[b], Schedule.Steps);

        int R = B * block;
        var rows = new int[R];
        var targets = new int[R];
        var weights = new float[R];
        for (int b = 0, j = 0; b < B; b++)
            for (int i = draw.Context; i < L; i++, j++) { rows[j] = b * L + i; targets[j] = draw.Tokens[b * L + i]; weights[j] = 1f / R; }
        ReadOnlySpan<float> hidden = model.ForwardInputs(inputs, B, L, rows);
        var lse = new float[R];
        MatrixView head = model.Model.Weights.Head;
        double loss = CrossEntropy.Forward(hidden, R, head, targets, weights, lse);
        if (!backward) return loss;

        var dHidden = new float[R * d];
        CrossEntropy.Backward(hidden, R, head, targets, weights, lse, scale, dHidden, model.Parameters.GradOf(head));
        ReadOnlySpan<float> dIn = model.BackwardInputs(dHidden);
        // in = P·EMB  ⇒  dEMB += Pᵀ·d in   ([V × n]·[n × d])
        AddTransposedProduct(probs, n, V, dIn, d, model.Parameters.GradOf(model.Model.Weights.Embedding));
        return loss;
    }

    /// <summary>K·(2·onehot(w) − 1) into <paramref name="s"/> [V].</summary>
    public static void Simplex(int w, double k, Span<float> s)
    {
        s.Fill((float)-k);
        s[w] = (float)k;
    }

    /// <summary>S ← √ᾱ·S + √(1 − ᾱ)·K·ε (q(S_t | w̃), the noise scaled to the simplex's K).</summary>
    public static void Noise(Span<float> s, ReadOnlySpan<float> eps, double alphaBar, double k)
    {
        float a = (float)Math.Sqrt(alphaBar), sn = (float)(Math.Sqrt(1 - alphaBar) * k);
        for (int v = 0; v < s.Length; v++) s[v] = a * s[v] + sn * eps[v];
    }

    /// <summary>inputs [n × d] = probs [n × V] · EMB [V × d] (float32 embedding).</summary>
    public static unsafe void MixEmbeddings(float[] probs, int n, in MatrixView embedding, Span<float> inputs)
    {
        int v = embedding.Rows, d = embedding.Cols;
        fixed (float* p = probs, y = inputs)
            Gemm.Multiply(MatrixView.RowMajor((nint)p, DType.F32, n, v), embedding, y, d);
    }

    private static unsafe void AddTransposedProduct(float[] probs, int n, int v, ReadOnlySpan<float> dIn, int d, Span<float> dEmb)
    {
        fixed (float* p = probs, g = dIn, y = dEmb)
            Gemm.Multiply(MatrixView.RowMajor((nint)p, DType.F32, n, v).T, MatrixView.RowMajor((nint)g, DType.F32, n, d), y, d, accumulate: true);
    }

    private void Check(SimplexDiffusionDraw draw, int block, int vocab)
    {
        if (draw.Batch <= 0 || draw.Length <= 0 || draw.Context < 0 || block < 1)
            throw new ArgumentException($"draw {draw.Batch}x{draw.Length} with context {draw.Context} has no block to denoise");
        if (draw.Tokens.Length != draw.Batch * draw.Length || draw.T.Length != draw.Batch || draw.Eps.Length != (long)draw.Batch * block * vocab)
            throw new ArgumentException($"draw sizes do not match {draw.Batch}x{draw.Length}, block {block}, vocabulary {vocab}");
        foreach (int w in draw.Tokens) if ((uint)w >= (uint)vocab) throw new ArgumentException($"token id {w} outside [0, {vocab})");
        foreach (int t in draw.T) if ((uint)t >= (uint)Schedule.Steps) throw new ArgumentException($"timestep {t} outside [0, {Schedule.Steps})");
    }
}
