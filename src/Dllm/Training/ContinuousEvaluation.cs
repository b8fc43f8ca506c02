using Dllm.Model;

namespace Dllm.Training;

/// <summary>
/// What <see cref="ContinuousEvaluation"/> measured: the family's own training objective on held-out data,
/// per token. For Diffusion-LM/DiffuSeq <see cref="Loss"/> is L_e2e-simple (x0 MSE + rounding NLL + prior,
/// <see cref="EmbeddingDiffusionObjective"/>) with its terms; for SSD-LM it is the block cross-entropy in
/// nats/token (Mse, Rounding, Prior null). Both are Monte Carlo averages over t ~ U{0..T−1}: the
/// quantities the papers train, not likelihood bounds (the MSE is in squared embedding units).
/// </summary>
public sealed record ContinuousScore(ModelKind Kind, double Loss, double? Mse, double? Rounding, double? Prior, int Examples, int Samples);

/// <summary>
/// <c>dllm eval</c> for the continuous families: each held-out example (an evenly spaced chunk of text, or a
/// DiffuSeq prompt/response pair) scored <c>samples</c> times by the family's objective with fresh noise and
/// timesteps and no gradient; the scores are averaged. The objective runs on a <see cref="TrainableModel"/>
/// holding the checkpoint's weights, so what is reported is computed by the very code that trains.
/// </summary>
public static class ContinuousEvaluation
{
    /// <summary>Scores token sequences (Diffusion-LM, SSD-LM: every row is text; DiffuSeq: <paramref name="promptLengths"/>
    /// leading rows of each are the anchored prompt).</summary>
    /// <exception cref="ArgumentException">No examples, samples below 1, a non-continuous model, an SSD-LM
    /// example shorter than one block, or a DiffuSeq example without prompt lengths or response.</exception>
    public static ContinuousScore Score(TrainableModel model, IReadOnlyList<int[]> examples, IReadOnlyList<int>? promptLengths, int samples, Random rng)
    {
        ModelConfig c = model.Config;
        if (!c.IsContinuous) throw new ArgumentException($"continuous evaluation needs a diffusion_lm, diffuseq or ssd_lm model, not {c.KindName}");
        if (examples.Count == 0) throw new ArgumentException("nothing to score: no examples");
        if (samples < 1) throw new ArgumentException($"--samples must be at least 1, got {samples}");
        if (c.Kind == ModelKind.DiffuSeq && promptLengths is null) throw new ArgumentException("DiffuSeq scores prompt/response pairs: give the prompt lengths");
        NoiseSchedule schedule = NoiseSchedule.For(c);
        double loss = 0, mse = 0, rounding = 0, prior = 0;
        int n = 0;
        for (int e = 0; e < examples.Count; e++)
        {
            int[] x = examples[e];
            for (int s = 0; s < samples; s++, n++)
            {
                if (c.Kind == ModelKind.SsdLm)
                {
                    var ssd = new SimplexDiffusionObjective(schedule, c.SimplexK, c.SsdBlockSize);
                    loss += ssd.Loss(model, ssd.Sample(x, 1, x.Length, c.EmbeddingRows, rng), backward: false);
                    continue;
                }
                bool[]? noised = null;
                if (promptLengths is not null)
                {
                    if (promptLengths[e] >= x.Length) throw new ArgumentException($"example {e} has no response to score");
                    noised = new bool[x.Length];
                    for (int i = promptLengths[e]; i < x.Length; i++) noised[i] = true;
                }
                var emb = new EmbeddingDiffusionObjective(schedule);
                EmbeddingDiffusionLoss terms = emb.Loss(model, emb.Sample(x, 1, x.Length, noised, c.DModel, rng), backward: false);
                loss += terms.Total; mse += terms.Mse; rounding += terms.Rounding; prior += terms.Prior;
            }
        }
        bool ssdLm = c.Kind == ModelKind.SsdLm;
        return new ContinuousScore(c.Kind, loss / n, ssdLm ? null : mse / n, ssdLm ? null : rounding / n, ssdLm ? null : prior / n, examples.Count, samples);
    }
}
