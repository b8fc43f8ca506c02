using System.Text.Json;
using Dllm.IO;

namespace Dllm.Text;

/// <summary>Picks and loads the tokenizer of a model directory.</summary>
public static class TokenizerLoader
{
    /// <summary>True when there is a file for <see cref="Load"/> to read for <paramref name="modelDirectory"/>: a tokenizer.json in
    /// the directory, or the path itself (a tokenizer.json or a GGUF file); whether it holds a tokenizer Dllm reads is
    /// <see cref="Load"/>'s to say.</summary>
    public static bool Exists(string modelDirectory)
        => File.Exists(modelDirectory) || File.Exists(Path.Combine(modelDirectory, "tokenizer.json"));

    /// <summary>
    /// Loads <c>DIR/tokenizer.json</c>: a <see cref="ByteTokenizer"/> when the file is a Dllm byte-tokenizer
    /// descriptor (<c>"dllm_tokenizer": "byte"</c>), a <see cref="WordLevelTokenizer"/> when its model is
    /// <c>"WordLevel"</c> (the files beside it and <paramref name="options"/> are not used then), otherwise a
    /// Hugging Face byte-level BPE (<see cref="HfBpeTokenizer"/>) configured by the files beside it.
    /// </summary>
    /// <remarks>
    /// <para>Files read beside tokenizer.json, each when present: <c>tokenizer_config.json</c> (chat template,
    /// bos/eos/pad/unk/mask tokens, clean-up of decoded text), <c>chat_template.jinja</c> (the template as
    /// newer transformers saves it; it wins over the config's, as in transformers) and <c>config.json</c>
    /// (only <c>mask_token_id</c>, used when nothing else names the mask).</para>
    /// <para>Special ids, in order: <paramref name="options"/>, tokenizer_config.json, config.json, then the
    /// LLaDA names (<c>&lt;|endoftext|&gt;</c>, <c>&lt;|startoftext|&gt;</c> without a config,
    /// <c>&lt;|mdm_mask|&gt;</c> or <c>&lt;|mask|&gt;</c>). The end-of-turn token is the first known one
    /// (<c>&lt;|eot_id|&gt;</c>, <c>&lt;|im_end|&gt;</c>, <c>&lt;|role_end|&gt;</c>...) that the chat template
    /// writes.</para>
    /// <para>A <c>*.gguf</c> path loads the tokenizer the file carries (<see cref="GgufTokenizer"/>: byte-level BPE only;
    /// a file without one, or with Dllm's placeholder vocabulary, is an <see cref="InvalidDataException"/> suggesting
    /// <c>--prompt-ids</c>).</para>
    /// </remarks>
    /// <param name="modelDirectory">The model directory; a path to a tokenizer.json file, or a GGUF file, is accepted too.</param>
    /// <param name="options">Overrides of the special ids (e.g. a mask id for a release whose files name none).</param>
    /// <exception cref="FileNotFoundException">No tokenizer.json (the message suggests <c>--prompt-ids</c>).</exception>
    /// <exception cref="InvalidDataException">Malformed file, or a special token it names that is not in the
    /// vocabulary; the message names the file and field.</exception>
    /// <exception cref="NotSupportedException">A tokenizer kind this engine does not implement.</exception>
    /// <exception cref="Jinja.TemplateException">The chat template does not parse (message names the file and line).</exception>
    public static ITokenizer Load(string modelDirectory, TokenizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (Dllm.IO.GgufModel.IsGgufPath(modelDirectory)) return GgufTokenizer.Load(modelDirectory, options);
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
        if (ModelType(path) == "WordLevel") return WordLevelTokenizer.Load(path);

        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string configPath = Path.Combine(dir, "tokenizer_config.json");
        TokenizerConfig? config = File.Exists(configPath) ? TokenizerConfig.Read(configPath) : null;
        string jinjaPath = Path.Combine(dir, "chat_template.jinja");
        (string, string)? template = File.Exists(jinjaPath) ? (File.ReadAllText(jinjaPath), jinjaPath) : null;
        options ??= new TokenizerOptions();
        if (options.ModelMaskId is null && ModelMaskId(Path.Combine(dir, "config.json")) is int modelMask)
            options = options with { ModelMaskId = modelMask };
        return HfBpeTokenizer.Load(path, config, options, template);
    }

    // The top-level model.type, found by a forward-only scan (no DOM: real BPE files are tens of MB and
    // HfBpeTokenizer parses them anyway); null when absent or when the JSON is malformed (the real reader reports it).
    private static string? ModelType(string path)
    {
        try
        {
            var reader = new Utf8JsonReader(File.ReadAllBytes(path), new JsonReaderOptions { AllowTrailingCommas = true, MaxDepth = 256 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isModel = reader.ValueTextEquals("model"u8);
                if (!reader.Read()) return null;
                if (!isModel || reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); continue; }
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool isType = reader.ValueTextEquals("type"u8);
                    if (!reader.Read()) return null;
                    if (isType) return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    reader.Skip();
                }
                return null;
            }
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    // config.json's mask_token_id, or null when the file, the field or valid JSON is missing (the model loader
    // reports a broken config.json; the tokenizer only borrows one number from it).
    private static int? ModelMaskId(string configJson)
    {
        if (!File.Exists(configJson)) return null;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(configJson));
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("mask_token_id", out JsonElement m) && m.TryGetInt32(out int id) ? id : null;
        }
        catch (JsonException)
        {
            return null;
        }
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
