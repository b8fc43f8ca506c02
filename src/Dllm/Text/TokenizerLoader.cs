using System.Text.Json;
using Dllm.IO;

namespace Dllm.Text;

/// <summary>Picks and loads the tokenizer of a model directory.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// Loads <c>DIR/tokenizer.json</c>: a <see cref="ByteTokenizer"/> when the file is a Dllm byte-tokenizer
    /// descriptor (<c>"dllm_tokenizer": "byte"</c>), otherwise a Hugging Face byte-level BPE
    /// (<see cref="HfBpeTokenizer"/>, default special ids looked up by name).
    /// </summary>
    /// <param name="modelDirectory">The model directory; a path to a tokenizer.json file is accepted too.</param>
    /// <exception cref="FileNotFoundException">No tokenizer.json (the message suggests <c>--prompt-ids</c>).</exception>
    /// <exception cref="InvalidDataException">Malformed file, message names it.</exception>
    /// <exception cref="NotSupportedException">A tokenizer kind this engine does not implement.</exception>
    public static ITokenizer Load(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        string path = File.Exists(modelDirectory) ? modelDirectory : Path.Combine(modelDirectory, "tokenizer.json");
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"no tokenizer.json in {modelDirectory}; pass --prompt-ids to give token ids directly", path);
        InputFile.Require(path, "tokenizer file");

        if (IsByteDescriptor(path, out JsonElement? root))
        {
            ByteTokenizer.ValidateDescriptor(root!.Value, path);
            return new ByteTokenizer();
        }
        return HfBpeTokenizer.Load(path);
    }

    // Only the top level is inspected here: real tokenizer.json files are tens of MB, so the document is
    // parsed fully only when it is small enough to be a descriptor; HfBpeTokenizer parses it again otherwise.
    private static bool IsByteDescriptor(string path, out JsonElement? root)
    {
        root = null;
        if (new FileInfo(path).Length > 64 * 1024) return false;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("dllm_tokenizer", out JsonElement kind))
            {
                if (kind.ValueKind != JsonValueKind.String || kind.GetString() != ByteTokenizer.DescriptorKind)
                    throw new NotSupportedException($"{path}: dllm_tokenizer kind '{kind}' is not supported (only \"byte\")");
                root = doc.RootElement.Clone();
                return true;
            }
            return false;
        }
        catch (Exception e) when (JsonErrors.IsContentError(e))
        {
            throw JsonErrors.Describe(path, e);
        }
    }
}
