using Dllm.Tensors;

namespace Dllm.IO;

/// <summary>
/// The tensors of a Hugging Face checkpoint directory, possibly split over several safetensors
/// shards, behind one name -> tensor lookup. Every shard is memory-mapped (see
/// <see cref="SafeTensorsFile"/>); nothing is copied.
/// </summary>
/// <remarks>
/// <para>Which files are read, first match wins (the order transformers uses):</para>
/// <list type="number">
/// <item><c>model.safetensors</c>;</item>
/// <item><c>model.safetensors.index.json</c>: its <c>weight_map</c> (tensor name -> shard file) decides
/// which tensors exist and where. Every listed shard must exist and every mapped tensor must be in
/// its shard. Tensors a shard holds but the map does not name are ignored, as transformers does;</item>
/// <item>the only <c>*.safetensors</c> file in the directory (several without an index is an error,
/// because we could not tell which one is the model).</item>
/// </list>
/// <para>Pointers and views are valid until <see cref="Dispose"/>.</para>
/// </remarks>
public sealed class Checkpoint : IDisposable
{
    /// <summary>File name of a single-file checkpoint.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>File name of the shard index of a sharded checkpoint.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly SafeTensorsFile[] _files;
    private readonly Dictionary<string, SafeTensorsFile> _owner;
    private readonly Dictionary<string, TensorInfo> _tensors;

    /// <summary>The checkpoint directory (absolute).</summary>
    public string Directory { get; }

    /// <summary>The mapped files (one, or the shards in first-mention order).</summary>
    public IReadOnlyList<SafeTensorsFile> Files => _files;

    /// <summary>Every tensor of the checkpoint by name. DataOffset is relative to the tensor's own shard.</summary>
    public IReadOnlyDictionary<string, TensorInfo> Tensors => _tensors;

    /// <summary>The <c>metadata</c> object of the index (e.g. total_size), or the single file's
    /// <c>__metadata__</c>; values that are not strings are kept as their raw JSON text.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private Checkpoint(string directory, SafeTensorsFile[] files, Dictionary<string, SafeTensorsFile> owner,
        IReadOnlyDictionary<string, string> metadata)
    {
        Directory = directory; _files = files; _owner = owner; Metadata = metadata;
        _tensors = new Dictionary<string, TensorInfo>(owner.Count, StringComparer.Ordinal);
        foreach (var (name, file) in owner) _tensors.Add(name, file.Get(name));
    }

    /// <summary>Opens the checkpoint in <paramref name="directory"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">No safetensors file found.</exception>
    /// <exception cref="InvalidDataException">A bad shard, a bad index, an index naming a missing shard,
    /// or an index mapping a tensor its shard lacks; the message names the file.</exception>
    public static Checkpoint Open(string directory)
    {
        directory = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(directory))
            throw new DirectoryNotFoundException($"checkpoint directory not found: {directory}");

        string single = Path.Combine(directory, SingleFileName);
        if (File.Exists(single)) return FromSingleFile(directory, single);

        string index = Path.Combine(directory, IndexFileName);
        if (File.Exists(index)) return FromIndex(directory, index);

        string[] candidates = System.IO.Directory.GetFiles(directory, "*.safetensors");
        Array.Sort(candidates, StringComparer.Ordinal);
        return candidates.Length switch
        {
            1 => FromSingleFile(directory, candidates[0]),
            0 => throw new FileNotFoundException(
                $"no {SingleFileName}, {IndexFileName} or other *.safetensors file in {directory}"),
            _ => throw new InvalidDataException(
                $"{directory} holds {candidates.Length} *.safetensors files ({string.Join(", ", candidates.Select(Path.GetFileName))}) but no {IndexFileName} saying how they fit together"),
        };
    }

    private static Checkpoint FromSingleFile(string directory, string path)
    {
        SafeTensorsFile f = SafeTensorsFile.Open(path);
        var owner = new Dictionary<string, SafeTensorsFile>(f.Tensors.Count, StringComparer.Ordinal);
        foreach (string name in f.Tensors.Keys) owner.Add(name, f);
        return new Checkpoint(directory, [f], owner, f.Metadata);
    }

    private static Checkpoint FromIndex(string directory, string indexPath)
    {
        ShardIndex index = ShardIndex.Load(indexPath);

        // Check every shard exists before mapping any, so the error names the real problem.
        foreach (string shard in index.Shards)
        {
            if (!File.Exists(Path.Combine(directory, shard)))
                throw new InvalidDataException($"{indexPath}: shard '{shard}' is listed in weight_map but does not exist in {directory}");
        }

        var files = new List<SafeTensorsFile>(index.Shards.Count);
        try
        {
            var byShard = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (string shard in index.Shards)
            {
                SafeTensorsFile f = SafeTensorsFile.Open(Path.Combine(directory, shard));
                files.Add(f);
                byShard.Add(shard, f);
            }
            var owner = new Dictionary<string, SafeTensorsFile>(index.WeightMap.Count, StringComparer.Ordinal);
            foreach (var (name, shard) in index.WeightMap)
            {
                SafeTensorsFile f = byShard[shard];
                if (!f.Contains(name))
                    throw new InvalidDataException($"{indexPath}: weight_map puts tensor '{name}' in '{shard}', but {f.Path} has no such tensor");
                owner.Add(name, f);
            }
            return new Checkpoint(directory, files.ToArray(), owner, index.Metadata);
        }
        catch
        {
            foreach (SafeTensorsFile f in files) f.Dispose();
            throw;
        }
    }

    /// <summary>True when the checkpoint has a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _owner.ContainsKey(name);

    /// <summary>The entry for <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException"><c>tensor 'x' not found in &lt;directory&gt;</c>.</exception>
    public TensorInfo Get(string name)
    {
        if (_tensors.TryGetValue(name, out TensorInfo? t)) return t;
        throw new KeyNotFoundException($"tensor '{name}' not found in {Directory}");
    }

    /// <summary>The shard holding <paramref name="name"/>.</summary>
    public SafeTensorsFile FileOf(string name)
    {
        if (_owner.TryGetValue(name, out SafeTensorsFile? f)) return f;
        throw new KeyNotFoundException($"tensor '{name}' not found in {Directory}");
    }

    /// <summary>Address of the first element of <paramref name="name"/> in its shard's mapping.</summary>
    public nint GetPointer(string name) => FileOf(name).GetPointer(name);

    /// <summary>Row-major view of a 1-D (as 1×n) or 2-D tensor; see <see cref="SafeTensorsFile.GetMatrix"/>.</summary>
    public MatrixView GetMatrix(string name) => FileOf(name).GetMatrix(name);

    /// <summary>
    /// Row-major view of a tensor that must have shape [<paramref name="rows"/>, <paramref name="cols"/>]
    /// (a 1-D tensor [n] is accepted for rows = 1, cols = n).
    /// </summary>
    /// <exception cref="InvalidDataException"><c>tensor 'x' has shape [64, 32], expected [64, 64]</c>, naming the shard.</exception>
    public MatrixView GetMatrix(string name, int rows, int cols)
    {
        SafeTensorsFile f = FileOf(name);
        TensorInfo t = f.Get(name);
        bool ok = t.Rank switch
        {
            2 => t.Shape[0] == rows && t.Shape[1] == cols,
            1 => rows == 1 && t.Shape[0] == cols,
            _ => false,
        };
        if (!ok)
            throw new InvalidDataException($"{f.Path}: tensor '{name}' has shape {t.ShapeString}, expected [{rows}, {cols}]");
        return f.GetMatrix(name);
    }

    /// <summary>A float32 copy of a tensor that must hold exactly <paramref name="expectedElements"/> elements
    /// (any rank: a norm weight is [d], but a [1, d] one is accepted too).</summary>
    /// <exception cref="InvalidDataException">Element count differs; the message gives the shape found.</exception>
    public float[] ReadSingle(string name, long expectedElements)
    {
        SafeTensorsFile f = FileOf(name);
        TensorInfo t = f.Get(name);
        if (t.ElementCount != expectedElements)
            throw new InvalidDataException($"{f.Path}: tensor '{name}' has shape {t.ShapeString} ({t.ElementCount} elements), expected {expectedElements} elements");
        return f.ReadSingle(name);
    }

    /// <summary>A float32 copy of a tensor of any size; see <see cref="SafeTensorsFile.ReadSingle"/>.</summary>
    public float[] ReadSingle(string name) => FileOf(name).ReadSingle(name);

    /// <summary>Unmaps every shard. Idempotent.</summary>
    public void Dispose()
    {
        foreach (SafeTensorsFile f in _files) f.Dispose();
    }

    public override string ToString() => $"{Directory} ({_tensors.Count} tensors in {_files.Length} file(s))";
}
