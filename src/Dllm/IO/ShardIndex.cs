using System.Text.Json;

namespace Dllm.IO;

/// <summary>
/// The <c>model.safetensors.index.json</c> of a sharded checkpoint:
/// <c>{"metadata": {"total_size": N}, "weight_map": {tensor name: shard file name}}</c>.
/// </summary>
/// <remarks>
/// Shard names must be plain file names in the checkpoint directory: a name with a directory
/// separator or <c>..</c> is refused, so an index cannot make us map files elsewhere.
/// </remarks>
public sealed class ShardIndex
{
    /// <summary>Tensor name -> shard file name (ordinal keys).</summary>
    public IReadOnlyDictionary<string, string> WeightMap { get; }

    /// <summary>Distinct shard file names, in order of first mention.</summary>
    public IReadOnlyList<string> Shards { get; }

    /// <summary>The <c>metadata</c> object; non-string values (total_size is a number) as raw JSON text.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private ShardIndex(Dictionary<string, string> map, List<string> shards, Dictionary<string, string> metadata)
    {
        WeightMap = map; Shards = shards; Metadata = metadata;
    }

    /// <summary>Reads and validates an index file.</summary>
    /// <exception cref="InvalidDataException">Not JSON, no <c>weight_map</c> object, a non-string or unsafe
    /// shard name, or a tensor listed twice; the message names the file.</exception>
    public static ShardIndex Load(string path)
    {
        InputFile.Require(path, "shard index");
        byte[] bytes = File.ReadAllBytes(path);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw JsonErrors.Describe(path, e);
        }
        using (doc)
        try
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: must be a JSON object, found {root.ValueKind}");
            if (!root.TryGetProperty("weight_map", out JsonElement wm) || wm.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: has no \"weight_map\" object (tensor name -> shard file)");

            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            var shards = new List<string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty p in wm.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"{path}: weight_map entry for tensor '{p.Name}' must be a shard file name, found {p.Value.ValueKind}");
                string shard = p.Value.GetString()!;
                if (shard.Length == 0 || shard != Path.GetFileName(shard) || shard is "." or ".." || shard.Contains('\\'))
                    throw new InvalidDataException($"{path}: shard name '{shard}' for tensor '{p.Name}' must be a plain file name in the checkpoint directory");
                if (!map.TryAdd(p.Name, shard))
                    throw new InvalidDataException($"{path}: tensor '{p.Name}' appears twice in weight_map");
                if (seen.Add(shard)) shards.Add(shard);
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("metadata", out JsonElement md) && md.ValueKind == JsonValueKind.Object)
            {
                foreach (JsonProperty p in md.EnumerateObject())
                    metadata[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
            }
            return new ShardIndex(map, shards, metadata);
        }
        catch (Exception e) when (JsonErrors.IsContentError(e)) { throw JsonErrors.Describe(path, e); }
    }

    /// <summary>
    /// Writes an index in the transformers format (atomically: tmp file, then rename). Keys are
    /// sorted so the output is deterministic.
    /// </summary>
    /// <param name="path">Destination, normally <c>dir/model.safetensors.index.json</c>.</param>
    /// <param name="weightMap">Tensor name -> shard file name.</param>
    /// <param name="totalSize">Sum of tensor byte lengths, stored as <c>metadata.total_size</c>.</param>
    public static void Save(string path, IReadOnlyDictionary<string, string> weightMap, long totalSize)
    {
        var ordered = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var kv in weightMap) ordered.Add(kv.Key, kv.Value);
        var obj = new Dictionary<string, object>
        {
            ["metadata"] = new Dictionary<string, long> { ["total_size"] = totalSize },
            ["weight_map"] = ordered,
        };
        string json = JsonSerializer.Serialize(obj, new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.WriteAllText(path, json + "\n");
    }
}
