namespace Dllm.Tensors;

/// <summary>
/// Backward of a bias-free linear layer y = x·Wᵀ (<see cref="Gemm.LinearForward"/>), W of shape
/// (n × k) = (out × in), through <see cref="Gemm.Multiply"/> (llm.c matmul_backward):
/// <code>
///   dx [m×k]  (+)= dy [m×n] · W [n×k]
///   dW [n×k]   += dyᵀ [n×m] · x [m×k]
/// </code>
/// </summary>
public static unsafe class LinearBackward
{
    /// <summary>
    /// x: forward input [m × k]; dy: [m × n]; w: the (n × k) weight in any dtype.
    /// dx: [m × k], overwritten or (accumulateDx) added to; pass an empty span to skip it.
    /// dW: float32 [n × k] row-major, always added to; pass an empty span to skip it (frozen weight).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int m, in MatrixView w,
        Span<float> dx, bool accumulateDx, Span<float> dW)
    {
        int n = w.Rows, k = w.Cols;
        if (dy.Length < (long)m * n) throw new ArgumentException($"dy has {dy.Length} elements, need {m}x{n}", nameof(dy));
        if (!dW.IsEmpty && (dW.Length < (long)n * k || x.Length < (long)m * k))
            throw new ArgumentException($"dW needs {n}x{k} and x needs {m}x{k} elements");
        if (!dx.IsEmpty && dx.Length < (long)m * k) throw new ArgumentException($"dx has {dx.Length} elements, need {m}x{k}", nameof(dx));
        if (m == 0) return;
        fixed (float* px = x, pdy = dy, pdx = dx, pdw = dW)
        {
            var dyv = MatrixView.RowMajor((nint)pdy, DType.F32, m, n);
            if (!dx.IsEmpty) Gemm.Multiply(dyv, w, pdx, k, accumulateDx);
            if (!dW.IsEmpty) Gemm.Multiply(dyv.T, MatrixView.RowMajor((nint)px, DType.F32, m, k), pdw, k, accumulate: true);
        }
    }
}
