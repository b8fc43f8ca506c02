using System.Numerics.Tensors;

namespace Dllm.Tensors;

/// <summary>
/// Backward of <see cref="RmsNorm.Forward"/> (Zhang &amp; Sennrich 2019). With r = rsqrt(mean(x²) + eps)
/// and y = x·r·w over a row of width d:
/// <code>
///   dw += Σ_rows dy ⊙ x·r
///   dx  = r·(dy ⊙ w) − x·r³/d · Σ_k (dy ⊙ w ⊙ x)_k
/// </code>
/// r is recomputed from x with <see cref="RmsNorm.InverseRms"/>, exactly as the forward computed it.
/// </summary>
public static class RmsNormBackward
{
    /// <summary>
    /// x: the forward input [rows × d]; dy: [rows × d]; dx: [rows × d], ADDED to (so a residual
    /// stream's gradient can be passed directly); dWeight: [d], added to. dx must not alias x or dy.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps,
        ReadOnlySpan<float> dy, Span<float> dx, Span<float> dWeight, int rows)
    {
        int d = weight.Length;
        if (d == 0) throw new ArgumentException("RMSNorm weight is empty", nameof(weight));
        if (x.Length < (long)rows * d || dy.Length < (long)rows * d || dx.Length < (long)rows * d)
            throw new ArgumentException($"RMSNorm backward needs {rows}x{d} elements");
        if (dWeight.Length < d) throw new ArgumentException($"dWeight has {dWeight.Length} elements, need {d}");
        Span<float> gw = d <= 4096 ? stackalloc float[d] : new float[d];
        for (int rIdx = 0; rIdx < rows; rIdx++)
        {
            ReadOnlySpan<float> xr = x.Slice(rIdx * d, d), dyr = dy.Slice(rIdx * d, d);
            Span<float> dxr = dx.Slice(rIdx * d, d);
            float r = RmsNorm.InverseRms(xr, eps);
            TensorPrimitives.Multiply(dyr, weight, gw);                 // g = dy ⊙ w
            float c = TensorPrimitives.Dot(gw, xr) * (r * r * r / d);  // Σ g ⊙ x · r³/d
            TensorPrimitives.MultiplyAdd(gw, r, dxr, dxr);              // dx += r·g
            TensorPrimitives.MultiplyAdd(xr, -c, dxr, dxr);             // dx −= c·x
            TensorPrimitives.Multiply(dyr, xr, gw);                     // dw += r·dy ⊙ x
            TensorPrimitives.MultiplyAdd(gw, r, dWeight[..d], dWeight[..d]);
        }
    }
}
