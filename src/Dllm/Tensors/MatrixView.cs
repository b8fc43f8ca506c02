namespace Dllm.Tensors;

/// <summary>
/// A strided 2-D view over unmanaged memory of any <see cref="DType"/>: element (i, j) lives at
/// <c>Data + (i·RowStride + j·ColStride)·sizeof(DType)</c>. Transposing swaps the strides and
/// copies nothing. The view does not own its memory: the caller keeps it alive and pinned
/// (a memory-mapped checkpoint, a pinned array, or a <c>fixed</c> block) while the view is used.
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

    /// <summary>Address of element (i, j).</summary>
    public nint At(int i, int j) => Data + (nint)((i * RowStride + j * ColStride) * DType.SizeOf());

    /// <summary>Rows [start, start+count) as a view.</summary>
    public MatrixView SliceRows(int start, int count)
    {
        if ((uint)start > (uint)Rows || (uint)count > (uint)(Rows - start))
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {start + count}) outside 0..{Rows}");
        return new MatrixView(At(start, 0), DType, count, Cols, RowStride, ColStride);
    }

    public override string ToString() => $"{DType}[{Rows}x{Cols}] strides ({RowStride},{ColStride})";
}
