using System.Numerics.Tensors;

namespace Dllm.Tensors;

/// <summary>
/// Root-mean-square layer norm (Zhang &amp; Sennrich 2019), computed in float32 as LLaDA does:
/// y = x · rsqrt(mean(x²) + eps) · w, row by row.
/// </summary>
public static class RmsNorm
{
    /// <summary>
    /// x: [rows × d] row-major, weight: [d], y: [rows × d] (may alias x).
    /// A row of zeros gives zeros (eps keeps the scale finite).
    /// </summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y, int rows)
    {
        int d = weight.Length;
        if (d == 0) throw new ArgumentException("RMSNorm weight is empty", nameof(weight));
        if (x.Length < (long)rows * d || y.Length < (long)rows * d)
            throw new ArgumentException($"RMSNorm needs {rows}x{d} elements, got x={x.Length}, y={y.Length}");
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xr = x.Slice(r * d, d);
            Span<float> yr = y.Slice(r * d, d);
            float scale = InverseRms(xr, eps);
            TensorPrimitives.Multiply(xr, scale, yr);
            TensorPrimitives.Multiply(yr, weight, yr);
        }
    }

    /// <summary>rsqrt(mean(x²) + eps) of one row; the sum runs in double to stay exact for wide rows.</summary>
    public static float InverseRms(ReadOnlySpan<float> row, float eps)
    {
        double ss = TensorPrimitives.SumOfSquares(row);
        return (float)(1.0 / Math.Sqrt(ss / row.Length + eps));
    }
}
