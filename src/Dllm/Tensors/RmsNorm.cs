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
    /// A row of zeros gives zeros (eps keeps the scale finite). Large inputs are split by rows over
    /// <see cref="Parallelism.Threads"/> workers.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y, int rows)
    {
        int d = weight.Length;
        if (d == 0) throw new ArgumentException("RMSNorm weight is empty", nameof(weight));
        if (x.Length < (long)rows * d || y.Length < (long)rows * d)
            throw new ArgumentException($"RMSNorm needs {rows}x{d} elements, got x={x.Length}, y={y.Length}");
        unsafe
        {
            // Rows are independent: split them over the workers (raw addresses: lambdas cannot capture spans).
            fixed (float* px = x, pw = weight, py = y)
            {
                nint ax = (nint)px, aw = (nint)pw, ay = (nint)py;
                Parallelism.ForRanges(rows, Math.Max(1, Parallelism.MinElementsPerWorker / d), (r0, r1) =>
                {
                    var w = new ReadOnlySpan<float>((float*)aw, d);
                    for (int r = r0; r < r1; r++)
                    {
                        var xr = new ReadOnlySpan<float>((float*)ax + (long)r * d, d);
                        var yr = new Span<float>((float*)ay + (long)r * d, d);
                        float scale = InverseRms(xr, eps);
                        TensorPrimitives.Multiply(xr, scale, yr);
                        TensorPrimitives.Multiply(yr, w, yr);
                    }
                });
            }
        }
    }

    /// <summary>rsqrt(mean(x²) + eps) of one row; the sum runs in double to stay exact for wide rows.</summary>
    public static float InverseRms(ReadOnlySpan<float> row, float eps)
    {
        double ss = TensorPrimitives.SumOfSquares(row);
        return (float)(1.0 / Math.Sqrt(ss / row.Length + eps));
    }
}
