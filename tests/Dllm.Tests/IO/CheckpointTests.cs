using Dllm.IO;
using Dllm.Tensors;
using Xunit;

namespace Dllm.Tests.IO;

public sealed unsafe class CheckpointTests
{
    private readonly string _dir = TestPaths.TempDir();

    private const string Q = "model.transformer.blocks.0.q_proj.weight";
    private const string Norm = "model.transformer.blocks.0.attn_norm.weight";
    private const string Wte = "model.transformer.wte.weight";

    private static SafeTensorsWriter.Entry E(string name, long[] shape, DType dt = DType.BF16)
    {
        long n = 1;
        foreach (long d in shape) n *= d;
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = i % 17 - 8;
        return SafeTensorsWriter.Entry.FromSingle(name, shape, v, dt);
    }

    /// <summary>Two shards and an index, as transformers writes them.</summary>
    private void WriteSharded()
    {
        SafeTensorsWriter.Write(Path.Combine(_dir, "model-00001-of-00002.safetensors"), [E(Wte, [10, 4]), E(Norm, [4], DType.F32)]);
        SafeTensorsWriter.Write(Path.Combine(_dir, "model-00002-of-00002.safetensors"), [E(Q, [4, 4])]);
        ShardIndex.Save(Path.Combine(_dir, Checkpoint.IndexFileName), new Dictionary<string, string>
        {
            [Wte] = "model-00001-of-00002.safetensors",
            [Norm] = "model-00001-of-00002.safetensors",
            [Q] = "model-00002-of-00002.safetensors",
        }, totalSize: 80 + 16 + 32);
    }

    [Fact]
    public void SingleModelSafetensors()
    {
        SafeTensorsWriter.Write(Path.Combine(_dir, "model.safetensors"), [E(Q, [4, 4]), E(Norm, [4], DType.F32)]);
        using var c = Checkpoint.Open(_dir);
        Assert.Single(c.Files);
        Assert.Equal(2, c.Tensors.Count);
        Assert.True(c.Contains(Q));
        Assert.False(c.Contains("nope"));
        MatrixView m = c.GetMatrix(Q, 4, 4);
        Assert.Equal(c.GetPointer(Q), m.Data);
        Assert.Equal(4, c.ReadSingle(Norm, 4).Length);
    }

    [Fact]
    public void FallsBackToTheOnlySafetensorsFile()
    {
        SafeTensorsWriter.Write(Path.Combine(_dir, "weights.safetensors"), [E(Q, [4, 4])]);
        using var c = Checkpoint.Open(_dir);
        Assert.EndsWith("weights.safetensors", c.Files[0].Path);
        Assert.True(c.Contains(Q));
    }

    [Fact]
    public void TwoLooseFilesWithoutIndexIsAnError()
    {
        SafeTensorsWriter.Write(Path.Combine(_dir, "a.safetensors"), [E(Q, [4, 4])]);
        SafeTensorsWriter.Write(Path.Combine(_dir, "b.safetensors"), [E(Norm, [4])]);
        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(_dir));
        Assert.Contains("holds 2 *.safetensors files (a.safetensors, b.safetensors) but no model.safetensors.index.json", ex.Message);
    }

    [Fact]
    public void EmptyDirectoryAndMissingDirectory()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => Checkpoint.Open(_dir));
        Assert.Contains($"no model.safetensors, model.safetensors.index.json or other *.safetensors file in {_dir}", ex.Message);
        string missing = Path.Combine(_dir, "nope");
        var ex2 = Assert.Throws<DirectoryNotFoundException>(() => Checkpoint.Open(missing));
        Assert.Contains(missing, ex2.Message);
    }

    [Fact]
    public void ShardedCheckpointDelegatesToTheRightShard()
    {
        WriteSharded();
        using var c = Checkpoint.Open(_dir);
        Assert.Equal(2, c.Files.Count);
        Assert.Equal(3, c.Tensors.Count);
        Assert.EndsWith("model-00002-of-00002.safetensors", c.FileOf(Q).Path);
        Assert.EndsWith("model-00001-of-00002.safetensors", c.FileOf(Wte).Path);
        Assert.Equal("128", c.Metadata["total_size"]);

        MatrixView q = c.GetMatrix(Q, 4, 4);
        Assert.Equal(DType.BF16, q.DType);
        Assert.Equal(-8f + 5, Widen.Bf16ToSingle(*(ushort*)q.At(1, 1))); // element 5
        MatrixView wte = c.GetMatrix(Wte, 10, 4);
        Assert.Equal(c.GetPointer(Wte), wte.Data);
        float[] norm = c.ReadSingle(Norm, 4);
        Assert.Equal([-8f, -7f, -6f, -5f], norm);
    }

    [Fact]
    public void IndexPointingToMissingShard()
    {
        WriteSharded();
        File.Delete(Path.Combine(_dir, "model-00002-of-00002.safetensors"));
        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(_dir));
        Assert.Contains(Checkpoint.IndexFileName, ex.Message);
        Assert.Contains("shard 'model-00002-of-00002.safetensors' is listed in weight_map but does not exist", ex.Message);
    }

    [Fact]
    public void IndexMappingATensorTheShardLacks()
    {
        WriteSharded();
        // Rewrite shard 2 without q_proj.
        SafeTensorsWriter.Write(Path.Combine(_dir, "model-00002-of-00002.safetensors"), [E("model.transformer.blocks.0.k_proj.weight", [4, 4])]);
        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(_dir));
        Assert.Contains($"weight_map puts tensor '{Q}' in 'model-00002-of-00002.safetensors', but", ex.Message);
        Assert.Contains("has no such tensor", ex.Message);
    }

    [Fact]
    public void IndexBadJsonOrNoWeightMapOrUnsafeShardName()
    {
        string index = Path.Combine(_dir, Checkpoint.IndexFileName);
        File.WriteAllText(index, "{\"weight_map\": ");
        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(_dir));
        Assert.Contains($"{index}: not valid JSON", ex.Message);

        File.WriteAllText(index, "{\"metadata\": {}}");
        ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(_dir));
        Assert.Contains("has no \"weight_map\" object", ex.Message);

        File.WriteAllText(index, "{\"weight_map\": {\"w\": \"../elsewhere.safetensors\"}}");
        ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(_dir));
        Assert.Contains("shard name '../elsewhere.safetensors' for tensor 'w' must be a plain file name", ex.Message);
    }

    [Fact]
    public void BadShardErrorNamesTheShard()
    {
        WriteSharded();
        string shard = Path.Combine(_dir, "model-00002-of-00002.safetensors");
        File.WriteAllBytes(shard, [1, 2]);
        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(_dir));
        Assert.Contains(shard, ex.Message);
    }

    [Fact]
    public void GetMatrixShapeMismatch()
    {
        SafeTensorsWriter.Write(Path.Combine(_dir, "model.safetensors"), [E(Q, [64, 32])]);
        using var c = Checkpoint.Open(_dir);
        var ex = Assert.Throws<InvalidDataException>(() => c.GetMatrix(Q, 64, 64));
        Assert.Contains($"tensor '{Q}' has shape [64, 32], expected [64, 64]", ex.Message);
        Assert.Contains("model.safetensors", ex.Message);
        // The transpose of what was expected is a mismatch too, not silently accepted.
        Assert.Throws<InvalidDataException>(() => c.GetMatrix(Q, 32, 64));
        MatrixView ok = c.GetMatrix(Q, 64, 32);
        Assert.Equal((64, 32), (ok.Rows, ok.Cols));
    }

    [Fact]
    public void ReadSingleElementCountMismatchAndMissingTensor()
    {
        SafeTensorsWriter.Write(Path.Combine(_dir, "model.safetensors"), [E(Norm, [4], DType.F32)]);
        using var c = Checkpoint.Open(_dir);
        var ex = Assert.Throws<InvalidDataException>(() => c.ReadSingle(Norm, 8));
        Assert.Contains($"tensor '{Norm}' has shape [4] (4 elements), expected 8 elements", ex.Message);
        var nf = Assert.Throws<KeyNotFoundException>(() => c.Get("model.transformer.ln_f.weight"));
        Assert.Equal($"tensor 'model.transformer.ln_f.weight' not found in {_dir}", nf.Message);
        Assert.Throws<KeyNotFoundException>(() => c.GetMatrix("model.transformer.ln_f.weight", 1, 4));
    }

    [Fact]
    public void OneDTensorAcceptedAsSingleRowMatrix()
    {
        SafeTensorsWriter.Write(Path.Combine(_dir, "model.safetensors"), [E(Norm, [4], DType.F32)]);
        using var c = Checkpoint.Open(_dir);
        MatrixView m = c.GetMatrix(Norm, 1, 4);
        Assert.Equal((1, 4), (m.Rows, m.Cols));
        Assert.Throws<InvalidDataException>(() => c.GetMatrix(Norm, 4, 1));
    }
}
