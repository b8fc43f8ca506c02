using Dllm.Model;
using Dllm.Tensors;
using Dllm.Training;

namespace Dllm.Sampling;

/// <summary>
/// SSD-LM's semi-autoregressive sampler (arXiv 2210.17432 §3.3): the answer is made block by block, each
/// block by a reverse process on its simplex logits S [block × V], conditioned on the prompt and every
/// earlier block as clean context (softmax of their almost-one-hot logits, as in training):
/// <code>
///   S_T ~ N(0, K²·I);  for the respaced steps t → prev:
///     ŵ      = argmax logits(softmax(S_t)·EMB + emb(t))        greedy projection of the prediction
///     S_prev = √ᾱ_prev·K(2·onehot(ŵ) − 1) + √(1 − ᾱ_prev)·K·z  (until prev is the data)
/// </code>
/// The block is the last ŵ. Generation stops after the block that holds EOS. Only the greedy (argmax)
/// projection is implemented; the paper also samples the projection with top-p.
/// </summary>
public sealed class SimplexDiffusionSampler
{
    private readonly Transformer _model;
    private readonly NoiseSchedule _schedule;

    /// <exception cref="ArgumentException">The model is not an SSD-LM checkpoint.</exception>
    public SimplexDiffusionSampler(Transformer model)
    {
        if (model.Config.Kind != ModelKind.SsdLm) throw new ArgumentException($"the simplex sampler needs an ssd_lm model, not {model.Config.KindName}");
        _model = model;
        _schedule = NoiseSchedule.For(model.Config);
    }

    /// <exception cref="DecodingOptionException">An option out of range.</exception>
    /// <exception cref="ArgumentException">A prompt id outside the vocabulary, or prompt + the answer's whole
    /// blocks longer than max_sequence_length.</exception>
    public ContinuousResult Generate(IReadOnlyList<int> prompt, ContinuousDecodingOptions o)
    {
        o.Validate();
        ModelConfig c = _model.Config;
        int block = o.BlockSize ?? c.SsdBlockSize, v = c.EmbeddingRows, d = c.DModel, eos = c.EosTokenId;
        int blocks = (o.AnswerLength + block - 1) / block;
        if (prompt.Count + blocks * block > _model.MaxSequenceLength)
            throw new ArgumentException($"prompt ({prompt.Count}) + {blocks} blocks of {block} = {prompt.Count + blocks * block} positions exceed the model's max_sequence_length {_model.MaxSequenceLength}");
        foreach (int w in prompt) if ((uint)w >= (uint)v) throw new ArgumentException($"prompt token id {w} is outside the vocabulary [0, {v})");
        var rng = new Random(o.Seed);
        var context = new List<int>(prompt);
        var answer = new List<int>();
        int[] steps = _schedule.Respaced(o.Steps);
        int forwards = 0;
        for (int bi = 0; bi < blocks; bi++)
        {
            int ctx = context.Count, len = ctx + block;
            var s = new float[block * v];
            Gaussian.Fill(s, rng, c.SimplexK);
            var probs = new float[len * v];
            for (int i = 0; i < ctx; i++)
            {
                SimplexDiffusionObjective.Simplex(context[i], c.SimplexK, probs.AsSpan(i * v, v));
                Softmax.InPlace(probs.AsSpan(i * v, v));
            }
            var inputs = new float[len * d];
            var hidden = new float[block * d];
            var logits = new float[block * v];
            var words = new int[block];
            int[] rows = Enumerable.Range(ctx, block).ToArray();
            for (int i = steps.Length - 1, n = 1; i >= 0; i--, n++)
            {
                int t = steps[i], prev = i > 0 ? steps[i - 1] : -1;
                s.CopyTo(probs, ctx * v);
                for (int r = 0; r < block; r++) Softmax.InPlace(probs.AsSpan((ctx + r) * v, v));
                SimplexDiffusionObjective.MixEmbeddings(probs, len, _model.Weights.Embedding, inputs);
                TimeEmbedding.AddTo(inputs, len, d, t, _schedule.Steps);
                _model.HiddenFromInputs(inputs, 1, len, rows, hidden);
                _model.HeadLogits(hidden, block, logits);
                forwards++;
                for (int r = 0; r < block; r++) words[r] = ArgMax(logits.AsSpan(r * v, v));
                if (prev >= 0)
                {
                    double abPrev = _schedule.AlphaBar(prev);
                    for (int r = 0; r < block; r++)
                    {
                        Span<float> row = s.AsSpan(r * v, v);
                        SimplexDiffusionObjective.Simplex(words[r], c.SimplexK, row);
                        for (int k = 0; k < v; k++) row[k] = (float)(Math.Sqrt(abPrev) * row[k] + Math.Sqrt(1 - abPrev) * c.SimplexK * Gaussian.Next(rng));
                    }
                }
                o.OnStep?.Invoke(new ContinuousStep(n, steps.Length, bi, [.. answer, .. words], [], []));
            }
            context.AddRange(words);
            answer.AddRange(words);
            if (Array.IndexOf(words, eos) >= 0) break;
        }
        return new ContinuousResult([.. answer.Take(o.AnswerLength)], forwards);
    }

    private static int ArgMax(ReadOnlySpan<float> z)
    {
        int best = 0;
        for (int i = 1; i < z.Length; i++) if (z[i] > z[best]) best = i;
        return best;
    }
}
