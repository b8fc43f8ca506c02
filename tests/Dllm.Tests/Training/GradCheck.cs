namespace Dllm.Tests.Training;

/// <summary>
/// Central finite differences in double around float32 code: each parameter is moved to the
/// float32 values nearest x ± h and the slope uses the step actually taken, so the only error
/// sources are float32 rounding in the function (≈1e-7·|f|/h) and the O(h²) truncation term.
/// </summary>
internal static class GradCheck
{
    /// <summary>d f / d p[i] for every i in <paramref name="indices"/> (all when null).</summary>
    public static double[] Numeric(Func<double> f, float[] p, double h, IReadOnlyList<int>? indices = null)
    {
        int count = indices?.Count ?? p.Length;
        var g = new double[count];
        for (int c = 0; c < count; c++)
        {
            int i = indices?[c] ?? c;
            float orig = p[i];
            float up = (float)(orig + h), down = (float)(orig - h);
            p[i] = up; double fu = f();
            p[i] = down; double fd = f();
            p[i] = orig;
            g[c] = (fu - fd) / ((double)up - down);
        }
        return g;
    }

    /// <summary>‖a − n‖ / max(‖a‖, ‖n‖, floor): 0 when equal, ~2 for a flipped sign, ≥ the missing share for a
    /// missing term. <paramref name="floor"/> keeps float32 noise on a near-zero gradient from reading as a large error.</summary>
    public static double RelativeError(ReadOnlySpan<float> analytic, ReadOnlySpan<double> numeric, double floor = 1e-30)
    {
        if (analytic.Length != numeric.Length) throw new ArgumentException("length mismatch");
        double diff = 0, na = 0, nn = 0;
        for (int i = 0; i < analytic.Length; i++)
        {
            diff += (analytic[i] - numeric[i]) * (analytic[i] - numeric[i]);
            na += (double)analytic[i] * analytic[i];
            nn += numeric[i] * numeric[i];
        }
        double den = Math.Max(Math.Sqrt(Math.Max(na, nn)), floor);
        return Math.Sqrt(diff) / den;
    }

    public static float[] Randn(Random rng, int n, double std = 1.0)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++)
            a[i] = (float)(std * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        return a;
    }

    /// <summary>Σ c_i·y_i in double: a random linear functional that turns an op's output into a scalar loss.</summary>
    public static double Dot(ReadOnlySpan<float> c, ReadOnlySpan<float> y)
    {
        double s = 0;
        for (int i = 0; i < c.Length; i++) s += (double)c[i] * y[i];
        return s;
    }
}
