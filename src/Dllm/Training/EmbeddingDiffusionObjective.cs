using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>One draw of the embedding-diffusion forward process: which rows are noised, each sequence's
/// timestep and the two standard normal draws (shared with the PyTorch golden through files, so no RNG has
/// to agree across languages).</summary>
/// <param name="Tokens">[Batch × Length] clean ids w.</param>
/// <param name="Batch">Sequences.</param>
/// <param name="Length">Rows per sequence.</param>
/// <param name="Noised">[Batch × Length]: true where the row is noised (every row for Diffusion-LM, the
/// response for DiffuSeq); the others are anchored to x_start.</param>
/// <param name="T">[Batch] timestep of each sequence, 0..T−1.</param>
/// <param name="Eps0">[Batch·Length × d] ε₀ of x_start = EMB(w) + σ₀·ε₀.</param>
/// <param name="Eps">[Batch·Length × d] ε of x_t = √ᾱ_t·x_start + √(1 − ᾱ_t)·ε.</param>
public sealed record EmbeddingDiffusionDraw(int[] Tokens, int Batch, int Length, bool[] Noised, int[] T, float[] Eps0, float[] Eps);

/// <summary>The three terms of the loss, each a mean over the batch of per-sequence means over noised rows.</summary>
public readonly record struct EmbeddingDiffusionLoss(double Mse, double Rounding, double Prior)
{
    public double Total => Mse + Rounding + Prior;
}

/// <summary>
/// Diffusion-LM's end-to-end objective (Li et al. 2022, arXiv 2205.14217, §4.1 L_e2e-simple; its code's
/// <c>training_losses_e2e</c>) and DiffuSeq's partial-noising variant of it (Gong et al. 2022, arXiv
/// 2210.08933, §3): learned embeddings EMB = wte, x0 prediction by the one transformer. Per sequence
/// (rows i that are noised, M of them, d = d_model, σ₀ = √(1 − ᾱ₀)):
/// <code>
///   x_start = EMB(w) + σ₀·ε₀                                   q_φ(x₀ | w)                      [L × d]
///   x_t     = √ᾱ_t·x_start + √(1 − ᾱ_t)·ε  on noised rows,  x_start on anchored rows (DiffuSeq's prompt)
///   x̂₀      = RMSNorm(Transformer(x_t + emb(t)))·ln_f        (<see cref="TimeEmbedding"/>)       [L × d]
///   mse     = Σ_i ‖x̂₀_i − target_i‖² / (M·d),  target = x_start, or EMB(w) when t = 0 (the L_0 term)
///   rounding= Σ_i −log softmax(x_start_i · EMBᵀ)[w_i] / M     (the decoder, tied to EMB)
///   prior   = Σ_i ‖√ᾱ_{T−1}·x_start_i‖² / (M·d)               (L_T: the mean of q(x_{T−1} | x₀))
///   loss    = mean over the batch of mse + rounding + prior
/// </code>
/// Every term depends on EMB, so the embedding learns from all three (through the inputs too: the gradient
/// w.r.t. x_t comes back from <see cref="TrainableModel.BackwardInputs"/>). Only noised rows enter the loss:
/// DiffuSeq's paper computes it on the response part alone (its code also fits the anchored prompt, which
/// the model is given; that term is left out here). The model needs tied weights (weight_tying: the
/// rounding head is EMB) and bidirectional attention.
/// </summary>
public sealed class EmbeddingDiffusionObjective
{
    public NoiseSchedule Schedule { get; }

    public EmbeddingDiffusionObjective(NoiseSchedule schedule) => Schedule = schedule;

    /// <summary>
    /// Draws t ~ U{0..T−1} per sequence, then ε₀ and ε (standard normal, in that order, sequence by sequence).
    /// <paramref name="noised"/> null means every row (Diffusion-LM).
    /// </summary>
    /// <exception cref="ArgumentException">Sizes that do not match, or a sequence with no noised row.</exception>
    public EmbeddingDiffusionDraw Sample(ReadOnlySpan<int> clean, int batch, int length, bool[]? noised, int d, Random rng)
    {
        if (clean.Length != batch * length) throw new ArgumentException($"clean has {clean.Length} ids, expected {batch}x{length}");
        noised ??= Enumerable.Repeat(true, batch * length).ToArray();
        var t = new int[batch];
        var eps0 = new float[batch * length * d];
        var eps = new float[batch * length * d];
        for (int b = 0; b < batch; b++)
        {
            t[b] = rng.Next(Schedule.Steps);
            Gaussian.Fill(eps0.AsSpan(b * length * d, length * d), rng);
            Gaussian.Fill(eps.AsSpan(b * length * d, length * d), rng);
        }
        return new EmbeddingDiffusionDraw(clean.ToArray(), batch, length, noised, t, eps0, eps);
    }

    /// <summary>
    /// The loss of <paramref name="draw"/> (see the class summary) and, with <paramref name="backward"/>, the
    /// gradient of scale·loss added into the model's gradients (zero them first; not zeroing accumulates).
    /// </summary>
    /// <exception cref="ArgumentException">The model is not tied or the draw is inconsistent (sizes, a token
    /// outside the vocabulary, a timestep outside 0..T−1, a sequence with no noised row).</exception>
    public EmbeddingDiffusionLoss Loss(TrainableModel model, EmbeddingDiffusionDraw draw, float scale = 1f, bool backward = true)
    {
        ModelConfig c = model.Config;
        if (!c.WeightTying) throw new ArgumentException("the rounding term reads the word embeddings as the LM head: the model needs weight_tying");
        int B = draw.Batch, L = draw.Length, n = B * L, d = c.DModel, T = Schedule.Steps;
        Check(draw, n, d, c.EmbeddingRows);
        ParameterTensor embTensor = model.Parameters[c.Names.Embedding];
        ReadOnlySpan<float> emb = model.Parameters.Value(embTensor);
        float sigma0 = (float)Math.Sqrt(1 - Schedule.AlphaBar(0));
        double abLast = Schedule.AlphaBar(T - 1);

        // x_start and the model's inputs.
        var xs = new float[n * d];
        var inputs = new float[n * d];
        var counts = new int[B];
        for (int r = 0; r < n; r++)
        {
            int b = r / L, w = draw.Tokens[r];
            if (draw.Noised[r]) counts[b]++;
            float sa = (float)Math.Sqrt(Schedule.AlphaBar(draw.T[b])), sn = (float)Math.Sqrt(1 - Schedule.AlphaBar(draw.T[b]));
            for (int k = 0; k < d; k++)
            {
                float x = emb[w * d + k] + sigma0 * draw.Eps0[r * d + k];
                xs[r * d + k] = x;
                inputs[r * d + k] = draw.Noised[r] ? sa * x + sn * draw.Eps[r * d + k] : x;
            }
        }
        if (Array.IndexOf(counts, 0) is int empty and >= 0) throw new ArgumentException($"sequence {empty} has no noised row: nothing to denoise");
        for (int b = 0; b < B; b++) TimeEmbedding.AddTo(inputs.AsSpan(b * L * d, L * d), L, d, draw.T[b], T);

        int[] all = Enumerable.Range(0, n).ToArray();
        ReadOnlySpan<float> x0 = model.ForwardInputs(inputs, B, L, all);

        // x0 MSE (L_t, and L_0 against EMB(w) at t = 0) and the prior L_T.
        var dHidden = new float[n * d];
        var dXs = new float[n * d];
        Span<float> dEmb = backward ? model.Parameters.Grad(embTensor) : default;
        double mse = 0, prior = 0;
        for (int r = 0; r < n; r++)
        {
            if (!draw.Noised[r]) continue;
            int b = r / L, w = draw.Tokens[r];
            double md = (double)counts[b] * d;
            bool atZero = draw.T[b] == 0;
            for (int k = 0; k < d; k++)
            {
                int i = r * d + k;
                double target = atZero ? emb[w * d + k] : xs[i], diff = x0[i] - target;
                mse += diff * diff / md / B;
                prior += abLast * xs[i] * xs[i] / md / B;
                if (!backward) continue;
                float g = (float)(scale * 2 * diff / md / B);
                dHidden[i] = g;
                if (atZero) dEmb[w * d + k] -= g; else dXs[i] -= g;
                dXs[i] += (float)(scale * 2 * abLast * xs[i] / md / B);
            }
        }

        // Rounding: −log p(w | x_start) through the tied head, on the noised rows.
        int[] rows = all.Where(r => draw.Noised[r]).ToArray();
        var sel = new float[rows.Length * d];
        var targets = new int[rows.Length];
        var weights = new float[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            xs.AsSpan(rows[i] * d, d).CopyTo(sel.AsSpan(i * d, d));
            targets[i] = draw.Tokens[rows[i]];
            weights[i] = 1f / (counts[rows[i] / L] * B);
        }
        var lse = new float[rows.Length];
        MatrixView head = model.Model.Weights.Head;
        double rounding = CrossEntropy.Forward(sel, rows.Length, head, targets, weights, lse);
        if (!backward) return new EmbeddingDiffusionLoss(mse, rounding, prior);

        var dSel = new float[rows.Length * d];
        CrossEntropy.Backward(sel, rows.Length, head, targets, weights, lse, scale, dSel, model.Parameters.GradOf(head));
        for (int i = 0; i < rows.Length; i++)
        {
            Span<float> dst = dXs.AsSpan(rows[i] * d, d);
            ReadOnlySpan<float> src = dSel.AsSpan(i * d, d);
            for (int k = 0; k < d; k++) dst[k] += src[k];
        }

        // Through the transformer to x_t, then x_t → x_start (√ᾱ_t on noised rows, 1 on anchored ones), x_start → EMB(w).
        ReadOnlySpan<float> dIn = model.BackwardInputs(dHidden);
        for (int r = 0; r < n; r++)
        {
            float f = draw.Noised[r] ? (float)Math.Sqrt(Schedule.AlphaBar(draw.T[r / L])) : 1f;
            for (int k = 0; k < d; k++) dXs[r * d + k] += f * dIn[r * d + k];
        }
        EmbeddingBackward.ScatterAdd(model.Parameters.GradOf(model.Model.Weights.Embedding), d, draw.Tokens, dXs);
        return new EmbeddingDiffusionLoss(mse, rounding, prior);
    }

    private void Check(EmbeddingDiffusionDraw draw, int n, int d, int vocab)
    {
        if (draw.Batch <= 0 || draw.Length <= 0) throw new ArgumentException($"empty draw {draw.Batch}x{draw.Length}");
        if (draw.Tokens.Length != n || draw.Noised.Length != n || draw.T.Length != draw.Batch || draw.Eps0.Length != n * d || draw.Eps.Length != n * d)
            throw new ArgumentException($"draw sizes do not match {draw.Batch}x{draw.Length} rows of d = {d}");
        foreach (int w in draw.Tokens) if ((uint)w >= (uint)vocab) throw new ArgumentException($"token id {w} outside [0, {vocab})");
        foreach (int t in draw.T) if ((uint)t >= (uint)Schedule.Steps) throw new ArgumentException($"timestep {t} outside [0, {Schedule.Steps})");
    }
}
