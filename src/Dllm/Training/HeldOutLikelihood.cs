using Dllm.Model;

namespace Dllm.Training;

/// <summary>What <see cref="HeldOutLikelihood.Score"/> measured: nats per token, and whether that is an exact NLL (AR) or an upper bound (ELBO).</summary>
public sealed record LikelihoodScore(double NatsPerToken, bool IsBound, int Chunks, int TokensPerChunk)
{
    /// <summary>exp(nats/token): the perplexity (an upper bound on it when <see cref="IsBound"/>).</summary>
    public double Perplexity => Math.Exp(NatsPerToken);
}

/// <summary>
/// Likelihood of held-out text in nats per token, the same way for every kind of model, so they
/// compare directly: <paramref name="chunks"/> evenly spaced chunks of a corpus, each scored after a
/// BOS token. A masked diffusion model gets the Monte Carlo ELBO bound (LLaDA Eq. 6,
/// <see cref="ElboEstimator"/>), an upper bound on its NLL in expectation; a block diffusion model the
/// sum of its blocks' bounds (BD3-LM); an autoregressive model its exact NLL
/// (<see cref="AutoregressiveObjective.NegativeLogLikelihood"/>).
/// </summary>
public static class HeldOutLikelihood
{
    /// <param name="samples">Monte Carlo samples per chunk (masked diffusion only; batched by up to 8).</param>
    /// <param name="rng">Draws the ELBO's masks (unused for an AR model).</param>
    /// <exception cref="ArgumentException">Non-positive sizes, a chunk (plus BOS) longer than the model's
    /// context, or a corpus shorter than one chunk.</exception>
    public static LikelihoodScore Score(Transformer model, TextCorpus corpus, int bos, int tokensPerChunk, int chunks, int samples, Random rng)
    {
        if (chunks < 1) throw new ArgumentException($"the chunk count must be positive, got {chunks}");
        CheckChunkLength(model, tokensPerChunk);
        if (corpus.Tokens.Length < tokensPerChunk)
            throw new ArgumentException($"the text has {corpus.Tokens.Length} tokens, fewer than one chunk of {tokensPerChunk}");
        int[] prompt = [bos];
        double total = 0;
        switch (model.Config.Kind)
        {
            case ModelKind.Autoregressive:
                for (int i = 0; i < chunks; i++) total += AutoregressiveObjective.NegativeLogLikelihood(model, prompt, corpus.EvenChunk(i, chunks, tokensPerChunk));
                break;
            case ModelKind.MaskedDiffusion:
                var elbo = new ElboEstimator(model.Config.MaskTokenId, samples, Math.Min(8, samples));
                for (int i = 0; i < chunks; i++) total += elbo.NegativeElbo(model, prompt, corpus.EvenChunk(i, chunks, tokensPerChunk), rng);
                break;
            case ModelKind.BlockDiffusion:
                // BD3-LM's bound (Arriola et al. 2025, Eq. 6): a sum over blocks of each block's masked diffusion
                // bound given the clean blocks before it, which is what the block-causal model sees when the
                // canvas ends with that block. Blocks are on the model's grid, the BOS at position 0.
                var blockElbo = new ElboEstimator(model.Config.MaskTokenId, samples, Math.Min(8, samples));
                int grid = model.Config.BlockSize;
                for (int i = 0; i < chunks; i++)
                {
                    int[] seq = [bos, .. corpus.EvenChunk(i, chunks, tokensPerChunk)];
                    for (int start = 1; start < seq.Length; start = (start / grid + 1) * grid)
                    {
                        int end = Math.Min(seq.Length, (start / grid + 1) * grid);
                        total += blockElbo.NegativeElbo(model, seq.AsSpan(0, start), seq.AsSpan(start, end - start), rng);
                    }
                }
                break;
            default:
                throw new ArgumentException($"no likelihood bound is implemented for {model.Config.Kind} models");
        }
        return new LikelihoodScore(total / ((double)chunks * tokensPerChunk), model.Config.Kind != ModelKind.Autoregressive, chunks, tokensPerChunk);
    }

    /// <summary>Checks, before any text is read, that chunks of <paramref name="tokensPerChunk"/> tokens after a BOS fit the model.</summary>
    /// <exception cref="ArgumentException">Not positive, or longer than the model's context.</exception>
    public static void CheckChunkLength(Transformer model, int tokensPerChunk)
    {
        if (tokensPerChunk < 1) throw new ArgumentException($"the chunk length must be positive, got {tokensPerChunk}");
        if (tokensPerChunk + 1 > model.MaxSequenceLength)
            throw new ArgumentException($"a chunk of {tokensPerChunk} tokens plus the BOS token is longer than the model's maximum sequence length {model.MaxSequenceLength}");
    }
}
