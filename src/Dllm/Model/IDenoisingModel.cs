namespace Dllm.Model;

/// <summary>
/// What a sampler may ask of a mask predictor, and nothing more: "the logits at these positions of
/// these canvases". How the logits are computed (architecture, caches, dtypes, threads) is the
/// model's business; how they are turned into tokens is the sampler's.
/// </summary>
public interface IDenoisingModel
{
    /// <summary>Length of a logits row (the LM head's output size).</summary>
    int VocabSize { get; }

    /// <summary>Longest canvas the model accepts.</summary>
    int MaxSequenceLength { get; }

    /// <summary>
    /// 0 for a model that denoises a whole canvas at once (bidirectional: LLaDA, Dream). B &gt; 0 for a
    /// block diffusion model (BD3-LM, SDAR, Fast-dLLM v2, LLaDA2; Arriola et al. 2025, arXiv 2503.09573):
    /// position i sees only the positions before the end of its block of B, blocks aligned at position 0.
    /// Such a model is decoded block by block along that grid: the logits of a position never depend on
    /// anything after its block's end, so a finished block's keys and values are final (an exact cache).
    /// This is what the model was trained to predict, not how it computes it.
    /// </summary>
    int DiffusionBlockSize => 0;

    /// <summary>
    /// Computes logits for a batch of equal-length canvases.
    /// <paramref name="tokens"/>: [batch × length] ids. <paramref name="positions"/>: [count] indices
    /// into each canvas, the same for every sequence. <paramref name="logits"/>: receives
    /// [batch × count × VocabSize]. <paramref name="keyMask"/>: empty, or [batch × length] with 0 for
    /// padding keys that no position may attend to.
    /// </summary>
    /// <exception cref="ArgumentException">A token id is outside the vocabulary, a position is outside
    /// the canvas, the canvas is longer than <see cref="MaxSequenceLength"/> or a span is too small.</exception>
    void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default);

    /// <summary>
    /// Logits at positions that differ per sequence (a batch of requests at different stages):
    /// <paramref name="rows"/> are flat canvas rows b·length + p, any order; <paramref name="logits"/> receives
    /// [rows × VocabSize] in that order. The default asks <see cref="Logits"/> for the union of the positions
    /// (every sequence pays for every position); a model that selects rows itself (the Transformer) computes
    /// only the rows asked for.
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="Logits"/>, or a row outside [0, batch·length).</exception>
    void LogitsAt(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> rows,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        var union = new SortedSet<int>();
        foreach (int r in rows)
        {
            if ((uint)r >= (uint)(batch * length)) throw new ArgumentException($"row {r} is outside the batch's {batch}x{length} canvas rows");
            union.Add(r % length);
        }
        int[] positions = [.. union];
        int vocab = VocabSize, count = positions.Length;
        var all = new float[batch * count * vocab];
        Logits(tokens, batch, length, positions, all, keyMask);
        for (int i = 0; i < rows.Length; i++)
        {
            int b = rows[i] / length, at = Array.BinarySearch(positions, rows[i] % length);
            all.AsSpan((b * count + at) * vocab, vocab).CopyTo(logits.Slice(i * vocab, vocab));
        }
    }
}
