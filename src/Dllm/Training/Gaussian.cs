namespace Dllm.Training;

/// <summary>Standard normal draws from a seeded <see cref="Random"/> (Box–Muller, one cosine branch per draw:
/// simple and reproducible across runs and platforms, which the resumable training loop relies on).</summary>
public static class Gaussian
{
    /// <summary>One N(0, std²) draw.</summary>
    public static double Next(Random rng, double std = 1.0)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Fills <paramref name="x"/> with N(0, std²) draws, in order.</summary>
    public static void Fill(Span<float> x, Random rng, double std = 1.0)
    {
        for (int i = 0; i < x.Length; i++) x[i] = (float)Next(rng, std);
    }
}
