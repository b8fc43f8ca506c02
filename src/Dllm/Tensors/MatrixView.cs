namespace Dllm.Tensors;

/// <summary>
/// A strided 2-D view over unmanaged memory of any <see cref="DType"/>: element (i, j) lives at
/// <c>Data + (i·RowStride + j·ColStride)·sizeof(DType)</c>. Transposing swaps the strides and
/// copies nothing. The view does not own its memory: the caller keeps it alive and pinned
/// (a memory-mapped checkpoint, a pinned array, or a <c>fixed</c> block) while the view is used.
/// <para>Over a block-quantized dtype (<see cref="DTypeInfo.IsQuantized"/>) strides still count elements,
/// but only whole blocks are addressable: <see cref="At"/> needs ColStride = 1 and an element index that is a
/// multiple of 32 (a row start when the row stride is a multiple of 32). Such views are read by
/// <see cref="QuantGemm"/> (as linear-layer weights) and <see cref="Widen.ToSingle"/> (whole rows).</para>
/// </summary>
public readonly struct MatrixView
{
    public readonly nint Data;
    public readonly DType DType;
    public readonly int Rows;
    public readonly int Cols;
    /// <summary>Distance between rows, in elements.</summary>
    public readonly long RowStride;
    /// <summary>Distance between columns, in elements.</summary>
    public readonly long ColStride;

    public MatrixView(nint data, DType dtype, int rows, int cols, long rowStride, long colStride)
    {
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(nameof(rows), $"negative shape {rows}x{cols}");
        Data = data; DType = dtype; Rows = rows; Cols = cols; RowStride = rowStride; ColStride = colStride;
    }

    /// <summary>A contiguous row-major matrix: rows × cols, row stride = cols.</summary>
    public static MatrixView RowMajor(nint data, DType dtype, int rows, int cols)
        => new(data, dtype, rows, cols, cols, 1);

    /// <summary>The transpose (a view; no data moves).</summary>
    public MatrixView T => new(Data, DType, Cols, Rows, ColStride, RowStride);

    /// <summary>True when columns are adjacent in memory (ColStride == 1).</summary>
    public bool IsRowContiguous => ColStride == 1;

    /// <summary>Address of element (i, j); for a quantized dtype, of the block that starts at (i, j).</summary>
    /// <exception cref="ArgumentException">A quantized view with ColStride ≠ 1 or (i, j) not at a block start.</exception>
    public nint At(int i, int j)
    {
        long e = i * RowStride + j * ColStride;
        if (!DType.IsQuantized()) return Data + (nint)(e * DType.SizeOf());
        int n = DType.BlockValues();
        if (ColStride != 1 || e % n != 0)
            throw new ArgumentException($"{this}: element ({i}, {j}) is not at the start of a {n}-value block");
        return Data + (nint)(e / n * DType.BlockBytes());
    }

    /// <summary>Rows [start, start+count) as a view.</summary>
    public MatrixView SliceRows(int start, int count)
    {
        if ((uint)start > (uint)Rows || (uint)count > (uint)(Rows - start))
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {start + count}) outside 0..{Rows}");
        return new MatrixView(At(start, 0), DType, count, Cols, RowStride, ColStride);
    }

    public override string ToString() => $"{DType}[{Rows}x{Cols}] strides ({RowStride},{ColStride})";
}
