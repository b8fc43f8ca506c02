namespace Dllm.Training;

/// <summary>
/// How the continuous families tell the one transformer the timestep: a fixed sinusoidal embedding of t,
/// added to every input row (improved-diffusion's <c>timestep_embedding</c>, as Diffusion-LM, DiffuSeq and
/// SSD-LM condition on t; they pass it through a learned MLP first, Dllm adds it as is so the backbone
/// needs no extra tensor). With half = d/2 and t scaled to 1000·t/T (improved-diffusion's rescale_timesteps):
/// <code>   emb[i] = cos(t'·10000^(−i/half)),  emb[half + i] = sin(t'·10000^(−i/half)),  i &lt; half   </code>
/// </summary>
public static class TimeEmbedding
{
    /// <summary>Adds emb(t) to each of the <paramref name="rows"/> rows of <paramref name="x"/> [rows × d] (d even).</summary>
    public static void AddTo(Span<float> x, int rows, int d, int t, int steps)
    {
        Span<float> e = d <= 1024 ? stackalloc float[d] : new float[d];
        Of(t, steps, e);
        for (int r = 0; r < rows; r++)
        {
            Span<float> row = x.Slice(r * d, d);
            for (int k = 0; k < d; k++) row[k] += e[k];
        }
    }

    /// <summary>emb(t) into <paramref name="e"/> [d].</summary>
    public static void Of(int t, int steps, Span<float> e)
    {
        int half = e.Length / 2;
        double scaled = 1000.0 * t / steps;
        for (int i = 0; i < half; i++)
        {
            double a = scaled * Math.Exp(-Math.Log(10000.0) * i / half);
            e[i] = (float)Math.Cos(a);
            e[half + i] = (float)Math.Sin(a);
        }
        if (e.Length % 2 == 1) e[^1] = 0;
    }
}
