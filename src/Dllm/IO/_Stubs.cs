// TEMPORARY: replaced by the IO branch at merge time.
using Dllm.Tensors;
namespace Dllm.IO;
public sealed record TensorInfo(string Name, DType DType, long[] Shape, long DataOffset, long ByteLength);
public sealed class Checkpoint : IDisposable
{
    public static Checkpoint Open(string directory) => throw new NotImplementedException();
    public IReadOnlyDictionary<string, TensorInfo> Tensors => throw new NotImplementedException();
    public bool Contains(string name) => throw new NotImplementedException();
    public MatrixView GetMatrix(string name, int rows, int cols) => throw new NotImplementedException();
    public float[] ReadSingle(string name, long expectedElements) => throw new NotImplementedException();
    public void Dispose() { }
}
public sealed record LladaConfig
{
    public int DModel { get; init; }
    public int NHeads { get; init; }
    public int? NKvHeads { get; init; }
    public int NLayers { get; init; }
    public int MlpHiddenSize { get; init; }
    public int VocabSize { get; init; }
    public int? EmbeddingSize { get; init; }
    public double RopeTheta { get; init; }
    public int MaxSequenceLength { get; init; }
    public double RmsNormEps { get; init; }
    public bool WeightTying { get; init; }
    public int EosTokenId { get; init; }
    public int MaskTokenId { get; init; }
    public int HeadDim => DModel / NHeads;
    public static LladaConfig Load(string path) => throw new NotImplementedException();
    public void Validate() { }
}
