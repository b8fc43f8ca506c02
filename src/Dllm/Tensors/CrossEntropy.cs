namespace Dllm.Tensors;

/// <summary>
/// Weighted cross-entropy of an LM head on selected rows, fused with the head so the full
/// [N × V] logits never exist: rows are processed in chunks of <see cref="ChunkRows"/>, each chunk's
/// logits z = h·Wᵀ [chunk × V] live only in a scratch buffer.
/// <code>
///   loss   = Σ_r w_r · (logsumexp(z_r) − z_r[t_r])            (−log softmax at the target)
///   dz_r   = s·w_r · (softmax(z_r) − onehot(t_r))              (s: loss scale)
///   dh     = dz·W          [rows × d]
///   dW    += dzᵀ·h         [V × d]
/// </code>
/// <see cref="Forward"/> stores logsumexp per row; <see cref="Backward"/> recomputes the chunk's
/// logits (one more head GEMM, in exchange for O(chunk·V) instead of O(rows·V) memory).
/// </summary>
public static unsafe class CrossEntropy
{
    /// <summary>Rows per chunk of logits.</summary>
    public const int ChunkRows = 64;

    /// <summary>
    /// hidden: [rows × d] (the final-normed rows); head: (V × d); targets, weights, logSumExp: [rows].
    /// Returns Σ w·CE in double. Zero rows give 0.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A target is outside [0, V).</exception>
    public static double Forward(ReadOnlySpan<float> hidden, int rows, in MatrixView head,
        ReadOnlySpan<int> targets, ReadOnlySpan<float> weights, Span<float> logSumExp)
    {
        int v = head.Rows, d = head.Cols;
        Check(hidden, rows, d, v, targets, weights, logSumExp);
        float[] z = new float[Math.Min(rows, ChunkRows) * v];
        double loss = 0;
        for (int r0 = 0; r0 < rows; r0 += ChunkRows)
        {
            int c = Math.Min(ChunkRows, rows - r0);
            Gemm.LinearForward(hidden.Slice(r0 * d, c * d), c, head, z);
            for (int i = 0; i < c; i++)
            {
                ReadOnlySpan<float> zr = z.AsSpan(i * v, v);
                double lse = Softmax.LogSumExp(zr);
                logSumExp[r0 + i] = (float)lse;
                loss += weights[r0 + i] * (lse - zr[targets[r0 + i]]);
            }
        }
        return loss;
    }

    /// <summary>
    /// dHidden: [rows × d], overwritten. dHead: float32 [V × d], added to (empty: skip).
    /// <paramref name="scale"/> multiplies the loss gradient (1/micro-batches for accumulation).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> hidden, int rows, in MatrixView head,
        ReadOnlySpan<int> targets, ReadOnlySpan<float> weights, ReadOnlySpan<float> logSumExp, float scale,
        Span<float> dHidden, Span<float> dHead)
    {
        int v = head.Rows, d = head.Cols;
        Check(hidden, rows, d, v, targets, weights, logSumExp);
        if (dHidden.Length < (long)rows * d) throw new ArgumentException($"dHidden needs {rows}x{d} elements");
        float[] z = new float[Math.Min(rows, ChunkRows) * v];
        for (int r0 = 0; r0 < rows; r0 += ChunkRows)
        {
            int c = Math.Min(ChunkRows, rows - r0);
            ReadOnlySpan<float> h = hidden.Slice(r0 * d, c * d);
            Gemm.LinearForward(h, c, head, z);
            for (int i = 0; i < c; i++)
            {
                Span<float> zr = z.AsSpan(i * v, v);
                float lse = logSumExp[r0 + i], w = weights[r0 + i] * scale;
                for (int j = 0; j < v; j++) zr[j] = w * MathF.Exp(zr[j] - lse);
                zr[targets[r0 + i]] -= w;
            }
            LinearBackward.Backward(h, z, c, head, dHidden.Slice(r0 * d, c * d), accumulateDx: false, dHead);
        }
    }

    private static void Check(ReadOnlySpan<float> hidden, int rows, int d, int v,
        ReadOnlySpan<int> targets, ReadOnlySpan<float> weights, ReadOnlySpan<float> lse)
    {
        if (hidden.Length < (long)rows * d) throw new ArgumentException($"hidden needs {rows}x{d} elements");
        if (targets.Length < rows || weights.Length < rows || lse.Length < rows)
            throw new ArgumentException($"targets, weights and logSumExp need {rows} entries");
        for (int r = 0; r < rows; r++)
            if ((uint)targets[r] >= (uint)v) throw new ArgumentOutOfRangeException(nameof(targets), targets[r], $"target outside the vocabulary [0, {v})");
    }
}
