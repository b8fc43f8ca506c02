// Test oracle: the ReferenceSampler as committed before the sampler refactor (bec40ed), frozen. Since then it
// has only followed API changes: it takes DecodingOptions (which absorbed GenerationOptions; a null block
// length is one block) and writes the CFG unconditional canvas itself (the library helper it called is gone).
// DiffusionSampler with the default strategy options must reproduce its observable behaviour exactly.
using Dllm.Model;
using Dllm.Sampling;

namespace Dllm.Tests.Sampling;

/// <summary>
/// LLaDA's reference sampler (generate.py; paper §2.4 and Appendix B.3): the answer starts fully
/// masked and is unmasked block by block (semi-autoregressive when BlockLength &lt; GenLength).
/// Each step runs the model on the whole canvas, predicts x0 at every masked position, scores it
/// (low confidence = its probability, or random), and commits the top-k scored positions, k from
/// <see cref="TransferSchedule"/>; the rest stay masked. Positions past the current block are never
/// committed. Ties in the score go to the lower position.
/// Only masked positions before the block's end can be committed, so only their logits are asked for.
/// </summary>
internal sealed class LegacyReferenceSampler
{
    private readonly IDenoisingModel _model;
    private readonly int _maskId;

    public LegacyReferenceSampler(IDenoisingModel model, int maskId)
    {
        _model = model;
        if ((uint)maskId >= (uint)model.VocabSize) throw new ArgumentOutOfRangeException(nameof(maskId), maskId, $"mask id outside the vocabulary [0, {model.VocabSize})");
        _maskId = maskId;
    }

    public GenerationResult Generate(IReadOnlyList<int> prompt, DecodingOptions options,
        Action<DenoisingStep>? onStep = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        int promptLength = prompt.Count, length = promptLength + options.GenLength, vocab = _model.VocabSize;
        if (promptLength == 0 && options.CfgScale > 0) throw new ArgumentException("classifier-free guidance needs a non-empty prompt");
        if (length > _model.MaxSequenceLength)
            throw new ArgumentException($"prompt ({promptLength}) + gen-length ({options.GenLength}) = {length} tokens exceeds the model's maximum sequence length {_model.MaxSequenceLength}");

        var canvas = new int[length];
        for (int i = 0; i < promptLength; i++) canvas[i] = prompt[i];
        canvas.AsSpan(promptLength).Fill(_maskId);

        bool cfg = options.CfgScale > 0;
        int batch = cfg ? 2 : 1;
        var batchTokens = new int[batch * length];
        var rng = new Random(options.Seed);
        var candidates = new List<int>(length);
        float[] logits = [];
        int forwards = 0, globalStep = 0;

        for (int block = 0; block < options.NumBlocks; block++)
        {
            int blockLength = options.BlockLength ?? options.GenLength;
            int blockStart = promptLength + block * blockLength, blockEnd = blockStart + blockLength;
            int maskedInBlock = 0;
            for (int i = blockStart; i < blockEnd; i++) if (canvas[i] == _maskId) maskedInBlock++;
            int[] counts = TransferSchedule.Counts(maskedInBlock, options.StepsPerBlock);

            for (int s = 0; s < counts.Length; s++, globalStep++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                candidates.Clear();
                for (int i = 0; i < blockEnd; i++) if (canvas[i] == _maskId) candidates.Add(i);

                int[] positions = candidates.ToArray();
                int needed = batch * positions.Length * vocab;
                if (logits.Length < needed) logits = new float[needed];
                if (positions.Length > 0)
                {
                    canvas.CopyTo(batchTokens, 0);
                    if (cfg)
                    {
                        // The unconditional canvas: prompt positions masked, the answer kept.
                        canvas.CopyTo(batchTokens, length);
                        batchTokens.AsSpan(length, promptLength).Fill(_maskId);
                    }
                    _model.Logits(batchTokens, batch, length, positions, logits);
                    forwards++;
                    if (cfg)
                        ClassifierFreeGuidance.Combine(logits.AsSpan(0, positions.Length * vocab),
                            logits.AsSpan(positions.Length * vocab, positions.Length * vocab), options.CfgScale);
                }

                // x0 and its score at every candidate position.
                var chosen = new int[positions.Length];
                var score = new double[positions.Length];
                for (int c = 0; c < positions.Length; c++)
                {
                    ReadOnlySpan<float> row = logits.AsSpan(c * vocab, vocab);
                    chosen[c] = TokenChoice.Sample(row, options.Temperature, rng);
                    score[c] = options.Ordering == OrderingRule.LowConfidence
                        ? TokenChoice.Probability(row, chosen[c])
                        : rng.NextDouble();
                }

                int k = Math.Min(counts[s], positions.Length);
                int[] order = TopK(score, k);
                var committed = new int[k];
                var confidences = new double[k];
                for (int j = 0; j < k; j++)
                {
                    int c = order[j];
                    canvas[positions[c]] = chosen[c];
                    committed[j] = positions[c];
                    confidences[j] = score[c];
                }
                onStep?.Invoke(new DenoisingStep(globalStep, block, s, promptLength, _maskId,
                    (int[])canvas.Clone(), committed, confidences));
            }
        }
        return new GenerationResult(canvas, promptLength, forwards);
    }

    /// <summary>Indices of the k largest scores, best first; equal scores keep the lower index first.</summary>
    internal static int[] TopK(double[] score, int k)
    {
        var idx = new int[score.Length];
        for (int i = 0; i < idx.Length; i++) idx[i] = i;
        Array.Sort(idx, (a, b) => score[b] != score[a] ? score[b].CompareTo(score[a]) : a.CompareTo(b));
        return idx[..k];
    }
}
