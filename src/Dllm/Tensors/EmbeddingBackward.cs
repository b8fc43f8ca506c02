namespace Dllm.Tensors;

/// <summary>Backward of <see cref="Embedding.Gather"/>: scatter-add, dTable[ids[r]] += dOut[r]
/// (a token used twice gets both gradients).</summary>
public static class EmbeddingBackward
{
    /// <summary>dTable: [vocab × d] float32 row-major, added to; ids: [n]; dOut: [n × d].</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, vocab).</exception>
    public static void ScatterAdd(Span<float> dTable, int d, ReadOnlySpan<int> ids, ReadOnlySpan<float> dOut)
    {
        int vocab = dTable.Length / d;
        if (dOut.Length < (long)ids.Length * d) throw new ArgumentException($"dOut has {dOut.Length} floats, need {ids.Length}x{d}");
        for (int r = 0; r < ids.Length; r++)
        {
            int id = ids[r];
            if ((uint)id >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(ids), id, $"token id outside the vocabulary [0, {vocab})");
            Span<float> row = dTable.Slice(id * d, d);
            ReadOnlySpan<float> g = dOut.Slice(r * d, d);
            for (int k = 0; k < d; k++) row[k] += g[k];
        }
    }
}
