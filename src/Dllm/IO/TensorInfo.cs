using Dllm.Tensors;

namespace Dllm.IO;

/// <summary>
/// One tensor's entry in a safetensors or GGUF file, already validated against the file it came from.
/// </summary>
/// <param name="Name">The tensor name as written in the header (e.g. <c>model.transformer.ln_f.weight</c>).</param>
/// <param name="DType">Stored element type; only types the engine computes with are accepted.</param>
/// <param name="Shape">Dimensions, outermost first. Empty for a 0-D scalar; a dimension may be 0.</param>
/// <param name="DataOffset">Absolute byte offset of the first element within the file (not relative
/// to the data section as in the header: the header's <c>begin</c> plus 8 plus the header length).</param>
/// <param name="ByteLength">Bytes occupied: <see cref="DTypeInfo.ByteCount"/> of <see cref="ElementCount"/> (whole blocks for Q8_0/Q4_0).</param>
public sealed record TensorInfo(string Name, DType DType, long[] Shape, long DataOffset, long ByteLength)
{
    /// <summary>Product of <see cref="Shape"/>; 1 for a 0-D scalar, 0 when any dimension is 0.</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape) n = checked(n * d);
            return n;
        }
    }

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>The shape as <c>[a, b, c]</c>, the spelling used in error messages.</summary>
    public string ShapeString => FormatShape(Shape);

    /// <summary>Formats a shape the way error messages spell it: <c>[64, 32]</c>.</summary>
    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    public override string ToString() => $"{Name}: {DType}{ShapeString} @ {DataOffset} (+{ByteLength})";
}
