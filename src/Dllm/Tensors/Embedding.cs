namespace Dllm.Tensors;

/// <summary>Token embedding lookup: out[r] = table[ids[r]], widened from the table's stored dtype.</summary>
public static class Embedding
{
    /// <summary>table: [vocab × d] row-contiguous view; ids: [n]; output: [n × d].</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, vocab).</exception>
    public static void Gather(in MatrixView table, ReadOnlySpan<int> ids, Span<float> output)
    {
        int d = table.Cols;
        if (!table.IsRowContiguous) throw new ArgumentException("embedding table must be row-contiguous");
        if (output.Length < (long)ids.Length * d) throw new ArgumentException($"output has {output.Length} floats, need {ids.Length}x{d}");
        for (int r = 0; r < ids.Length; r++)
        {
            int id = ids[r];
            if ((uint)id >= (uint)table.Rows) throw new ArgumentOutOfRangeException(nameof(ids), id, $"token id outside the vocabulary [0, {table.Rows})");
            Widen.ToSingle(table.At(id, 0), table.DType, output.Slice(r * d, d));
        }
    }
}
