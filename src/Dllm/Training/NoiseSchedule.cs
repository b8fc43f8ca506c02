namespace Dllm.Training;

/// <summary>
/// The Gaussian forward process the continuous families share: q(x_t | x_0) = N(√ᾱ_t·x_0, (1 − ᾱ_t)·I) for
/// t = 0..T−1 (0-based as in improved-diffusion, which Diffusion-LM and DiffuSeq build on). ᾱ is made from a
/// continuous ᾱ(s), s ∈ [0, 1], as in improved-diffusion's <c>betas_for_alpha_bar</c>:
/// <code>
///   β_i = min(1 − ᾱ((i+1)/T) / ᾱ(i/T), 0.999),   ᾱ_t = Π_{i ≤ t} (1 − β_i)
///   sqrt   (Diffusion-LM §4.2, arXiv 2205.14217):  ᾱ(s) = 1 − √(s + 10⁻⁴)
///   cosine (Nichol &amp; Dhariwal 2021; SSD-LM):      ᾱ(s) = cos²((s + 0.008)/1.008 · π/2)
/// </code>
/// The sqrt schedule adds noise fast at small t (ᾱ_0 ≈ 0.99 for T = 2000, so even step 0 perturbs an embedding
/// noticeably), which the Diffusion-LM paper found matters for discrete data.
/// </summary>
public sealed class NoiseSchedule
{
    private readonly double[] _alphaBar;

    /// <summary>"sqrt" or "cosine".</summary>
    public string Kind { get; }

    /// <summary>T, the number of timesteps.</summary>
    public int Steps => _alphaBar.Length;

    /// <exception cref="ArgumentException">An unknown kind or T outside 1..100000.</exception>
    public NoiseSchedule(string kind, int steps)
    {
        Func<double, double> f = kind switch
        {
            "sqrt" => s => 1 - Math.Sqrt(s + 1e-4),
            "cosine" => s => Math.Pow(Math.Cos((s + 0.008) / 1.008 * Math.PI / 2), 2),
            _ => throw new ArgumentException($"unknown noise schedule '{kind}' (sqrt or cosine)"),
        };
        if (steps is < 1 or > 100_000) throw new ArgumentException($"diffusion steps must lie in 1..100000, got {steps}");
        Kind = kind;
        _alphaBar = new double[steps];
        double acc = 1;
        for (int i = 0; i < steps; i++)
        {
            double beta = Math.Min(1 - f((i + 1.0) / steps) / f((double)i / steps), 0.999);
            acc *= 1 - beta;
            _alphaBar[i] = acc;
        }
    }

    /// <summary>The schedule a continuous-family config names (noise_schedule, diffusion_steps).</summary>
    public static NoiseSchedule For(Model.ModelConfig config)
        => new(config.NoiseSchedule ?? throw new ArgumentException($"a {config.KindName} model has no noise schedule"), config.DiffusionSteps);

    /// <summary>ᾱ_t; t = −1 means the clean data (ᾱ = 1).</summary>
    public double AlphaBar(int t) => t < 0 ? 1.0 : _alphaBar[t];

    /// <summary>
    /// q(x_prev | x_t, x̂_0) for a jump from step <paramref name="t"/> to an earlier step <paramref name="prev"/>
    /// (−1 = the data), the DDPM posterior with β = 1 − ᾱ_t/ᾱ_prev (Ho et al. 2020 Eq. 7; with prev = t − 1
    /// it is the plain one, otherwise the respaced one of improved-diffusion's <c>space_timesteps</c>):
    /// mean = CoefX0·x̂_0 + CoefXt·x_t, standard deviation Std (0 when prev = −1).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not −1 ≤ prev &lt; t &lt; T.</exception>
    public (double CoefX0, double CoefXt, double Std) Posterior(int t, int prev)
    {
        if (t < 0 || t >= Steps || prev < -1 || prev >= t) throw new ArgumentOutOfRangeException(nameof(prev), $"need -1 <= prev < t < T, got t={t}, prev={prev}, T={Steps}");
        double abT = AlphaBar(t), abPrev = AlphaBar(prev), beta = 1 - abT / abPrev;
        double coefX0 = Math.Sqrt(abPrev) * beta / (1 - abT);
        double coefXt = Math.Sqrt(abT / abPrev) * (1 - abPrev) / (1 - abT);
        return (coefX0, coefXt, Math.Sqrt(Math.Max(0, beta * (1 - abPrev) / (1 - abT))));
    }

    /// <summary>
    /// <paramref name="count"/> timesteps spread evenly over 0..T−1, ascending, always including 0 and T−1
    /// (the respaced sampling steps; all T when count ≥ T).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">count &lt; 1.</exception>
    public int[] Respaced(int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "need at least one sampling step");
        if (count >= Steps) return Enumerable.Range(0, Steps).ToArray();
        if (count == 1) return [Steps - 1];
        return Enumerable.Range(0, count).Select(i => (int)Math.Round((double)i * (Steps - 1) / (count - 1))).Distinct().ToArray();
    }
}
