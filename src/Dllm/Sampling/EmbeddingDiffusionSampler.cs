using Dllm.Model;
using Dllm.Tensors;
using Dllm.Training;

namespace Dllm.Sampling;

/// <summary>
/// The reverse process of Diffusion-LM (arXiv 2205.14217 §4.2) and DiffuSeq (arXiv 2210.08933 §3): from
/// x_T ~ N(0, I) on the answer rows, for the respaced steps t → prev down to the data:
/// <code>
///   x̂₀     = model(x_t + emb(t))                      on the answer rows              [A × d]
///   x̂₀     ← EMB[argmin_v ‖x̂₀ − EMB_v‖²]              the clamping trick (optional)
///   x_prev = CoefX0·x̂₀ + CoefXt·x_t + Std·z           the DDPM posterior (<see cref="NoiseSchedule.Posterior"/>)
/// </code>
/// The prompt rows are anchored: they hold the clean EMB(prompt) at every step and are never updated
/// (DiffuSeq's partial noising; for a Diffusion-LM model, which was trained with every row noised, this is
/// the paper's infilling-style conditioning, an approximation). The answer is the last x̂₀ rounded to its
/// nearest words. Greedy in nothing: the randomness is the seed's Gaussian draws.
/// </summary>
public sealed class EmbeddingDiffusionSampler
{
    private readonly Transformer _model;
    private readonly NoiseSchedule _schedule;
    private readonly float[] _table;   // EMB [V × d] as float32
    private readonly float[] _halfNorm; // ½‖EMB_v‖²

    /// <exception cref="ArgumentException">The model is not a Diffusion-LM or DiffuSeq checkpoint.</exception>
    public EmbeddingDiffusionSampler(Transformer model)
    {
        if (!model.Config.IsEmbeddingDiffusion)
            throw new ArgumentException($"the embedding-diffusion sampler needs a diffusion_lm or diffuseq model, not {model.Config.KindName}");
        _model = model;
        _schedule = NoiseSchedule.For(model.Config);
        int v = model.Config.EmbeddingRows, d = model.Config.DModel;
        _table = new float[v * d];
        Embedding.Gather(model.Weights.Embedding, Enumerable.Range(0, v).ToArray(), _table);
        _halfNorm = new float[v];
        for (int i = 0; i < v; i++)
        {
            double s = 0;
            for (int k = 0; k < d; k++) s += (double)_table[i * d + k] * _table[i * d + k];
            _halfNorm[i] = (float)(s / 2);
        }
    }

    /// <summary>Samples an answer of <see cref="ContinuousDecodingOptions.AnswerLength"/> tokens after <paramref name="prompt"/>.</summary>
    /// <exception cref="DecodingOptionException">An option out of range.</exception>
    /// <exception cref="ArgumentException">A prompt id outside the vocabulary, or prompt + answer longer than max_sequence_length.</exception>
    public ContinuousResult Generate(IReadOnlyList<int> prompt, ContinuousDecodingOptions o)
    {
        o.Validate();
        int p = prompt.Count, a = o.AnswerLength, len = p + a, d = _model.Config.DModel, v = _halfNorm.Length;
        if (len > _model.MaxSequenceLength)
            throw new ArgumentException($"prompt ({p}) + answer ({a}) = {len} positions exceed the model's max_sequence_length {_model.MaxSequenceLength}");
        foreach (int w in prompt) if ((uint)w >= (uint)v) throw new ArgumentException($"prompt token id {w} is outside the vocabulary [0, {v})");
        var rng = new Random(o.Seed);
        var x = new float[len * d];
        for (int i = 0; i < p; i++) _table.AsSpan(prompt[i] * d, d).CopyTo(x.AsSpan(i * d, d));
        Gaussian.Fill(x.AsSpan(p * d), rng);
        int[] steps = _schedule.Respaced(o.Steps);
        int[] rows = Enumerable.Range(p, a).ToArray();
        var inputs = new float[len * d];
        var x0 = new float[a * d];
        var scores = new float[a * v];
        var words = new int[a];
        for (int i = steps.Length - 1, n = 1; i >= 0; i--, n++)
        {
            int t = steps[i], prev = i > 0 ? steps[i - 1] : -1;
            x.CopyTo(inputs, 0);
            TimeEmbedding.AddTo(inputs, len, d, t, _schedule.Steps);
            _model.HiddenFromInputs(inputs, 1, len, rows, x0);
            Round(x0, a, scores, words);
            if (o.Clamp)
                for (int r = 0; r < a; r++) _table.AsSpan(words[r] * d, d).CopyTo(x0.AsSpan(r * d, d));
            var (cx0, cxt, std) = _schedule.Posterior(t, prev);
            Span<float> xa = x.AsSpan(p * d);
            for (int k = 0; k < xa.Length; k++)
                xa[k] = (float)(cx0 * x0[k] + cxt * xa[k] + (std > 0 ? std * Gaussian.Next(rng) : 0));
            o.OnStep?.Invoke(new ContinuousStep(n, steps.Length, 0, (int[])words.Clone(), (float[])x.Clone(), (float[])x0.Clone()));
        }
        return new ContinuousResult(words, steps.Length);
    }

    /// <summary>The nearest word of each of <paramref name="rows"/> vectors: argmax_v (x·EMB_v − ½‖EMB_v‖²) = argmin_v ‖x − EMB_v‖².</summary>
    private void Round(float[] x, int rows, float[] scores, int[] words)
    {
        int v = _halfNorm.Length;
        Gemm.LinearForward(x.AsSpan(0, rows * _model.Config.DModel), rows, _model.Weights.Embedding, scores);
        for (int r = 0; r < rows; r++)
        {
            int best = 0;
            float bestScore = float.NegativeInfinity;
            for (int w = 0; w < v; w++)
            {
                float s = scores[r * v + w] - _halfNorm[w];
                if (s > bestScore) { bestScore = s; best = w; }
            }
            words[r] = best;
        }
    }
}
