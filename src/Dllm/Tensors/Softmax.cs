using System.Numerics.Tensors;

namespace Dllm.Tensors;

/// <summary>Numerically stable softmax: exp(x − max) / Σ exp(x − max), in place.</summary>
public static class Softmax
{
    /// <summary>
    /// Softmax of one row in place. Entries equal to −∞ get probability 0. A row that is all −∞
    /// (every key masked) becomes all zeros rather than NaN.
    /// </summary>
    public static void InPlace(Span<float> row)
    {
        if (row.IsEmpty) return;
        float max = TensorPrimitives.Max(row);
        if (float.IsNegativeInfinity(max)) { row.Clear(); return; }
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp(row, row);
        float sum = TensorPrimitives.Sum(row);
        TensorPrimitives.Divide(row, sum, row);
    }

    /// <summary>log Σ exp(x), stable; −∞ for an empty or all −∞ row.</summary>
    public static double LogSumExp(ReadOnlySpan<float> row)
    {
        if (row.IsEmpty) return double.NegativeInfinity;
        float max = TensorPrimitives.Max(row);
        if (float.IsNegativeInfinity(max)) return double.NegativeInfinity;
        double s = 0;
        foreach (float v in row) s += Math.Exp(v - max);
        return max + Math.Log(s);
    }
}
