using System.Numerics.Tensors;

namespace Dllm.Tensors;

/// <summary>
/// A bias added to every row, y[r] += b (Qwen2's q/k/v projections), and its gradient
/// db = Σ_r dy[r]. Shapes: y, dy [rows × b.Length]; b, db [b.Length].
/// </summary>
public static class Bias
{
    /// <summary>y[r] += bias for r in [0, rows). An empty bias does nothing.</summary>
    public static void Forward(Span<float> y, ReadOnlySpan<float> bias, int rows)
    {
        if (bias.IsEmpty) return;
        if (y.Length < (long)rows * bias.Length) throw new ArgumentException($"y has {y.Length} floats, need {rows}x{bias.Length}");
        for (int r = 0; r < rows; r++)
        {
            Span<float> row = y.Slice(r * bias.Length, bias.Length);
            TensorPrimitives.Add(row, bias, row);
        }
    }

    /// <summary>dBias += Σ_r dy[r] over r in [0, rows) (accumulates, like every parameter gradient).</summary>
    public static void Backward(ReadOnlySpan<float> dy, int rows, Span<float> dBias)
    {
        if (dy.Length < (long)rows * dBias.Length) throw new ArgumentException($"dy has {dy.Length} floats, need {rows}x{dBias.Length}");
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(dBias, dy.Slice(r * dBias.Length, dBias.Length), dBias);
    }
}
