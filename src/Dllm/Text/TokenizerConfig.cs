using System.Text.Json;
using Dllm.IO;

namespace Dllm.Text;

/// <summary>
/// The fields of a Hugging Face <c>tokenizer_config.json</c> that Dllm uses: the chat template, the special
/// token names (BOS/EOS/PAD/UNK/mask), <c>add_bos_token</c>/<c>add_eos_token</c> and
/// <c>clean_up_tokenization_spaces</c>. Everything else in the file is ignored.
/// </summary>
/// <remarks>
/// <para>Token fields come in three shapes, all accepted: a string (<c>"&lt;|im_end|&gt;"</c>), null (no such
/// token; Qwen's <c>bos_token</c>), or an AddedToken object (<c>{"__type": "AddedToken", "content": ...}</c>,
/// written by older transformers).</para>
/// <para><c>chat_template</c> is either one string or, in files written by transformers 4.40-4.42, a list of
/// <c>{"name", "template"}</c> objects; then the one named <c>default</c> is <see cref="ChatTemplate"/> (as
/// transformers picks it) and all are in <see cref="NamedChatTemplates"/>.</para>
/// </remarks>
public sealed class TokenizerConfig
{
    /// <summary>The file this was read from (named in error messages).</summary>
    public required string Path { get; init; }

    /// <summary>The default chat template (Jinja source), or null when the file has none.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Every named chat template (e.g. <c>default</c>, <c>tool_use</c>); empty when the file has a single string.</summary>
    public IReadOnlyDictionary<string, string> NamedChatTemplates { get; init; } = new Dictionary<string, string>();

    /// <summary><c>bos_token</c>, or null.</summary>
    public string? BosToken { get; init; }

    /// <summary><c>eos_token</c>, or null.</summary>
    public string? EosToken { get; init; }

    /// <summary><c>pad_token</c>, or null.</summary>
    public string? PadToken { get; init; }

    /// <summary><c>unk_token</c>, or null.</summary>
    public string? UnkToken { get; init; }

    /// <summary><c>mask_token</c>, or null (LLaDA's config does not name its mask; its id is in config.json).</summary>
    public string? MaskToken { get; init; }

    /// <summary><c>add_bos_token</c>, or null when absent.</summary>
    public bool? AddBosToken { get; init; }

    /// <summary><c>add_eos_token</c>, or null when absent.</summary>
    public bool? AddEosToken { get; init; }

    /// <summary>
    /// <c>clean_up_tokenization_spaces</c>: decoding removes the space before punctuation and contractions
    /// (" ." becomes "."), as transformers' <c>decode</c> does. False when absent (transformers' default since 4.45).
    /// </summary>
    public bool CleanUpTokenizationSpaces { get; init; }

    /// <summary>The special-token variables a chat template sees (<c>bos_token</c>, <c>eos_token</c>, ...), absent ones left out.</summary>
    public IReadOnlyDictionary<string, string> SpecialTokenVariables()
    {
        var vars = new Dictionary<string, string>();
        void Add(string name, string? value) { if (value is not null) vars[name] = value; }
        Add("bos_token", BosToken);
        Add("eos_token", EosToken);
        Add("pad_token", PadToken);
        Add("unk_token", UnkToken);
        Add("mask_token", MaskToken);
        return vars;
    }

    /// <summary>Reads <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not JSON, not an object, or a known field of the wrong type; the
    /// message names the file and the field.</exception>
    public static TokenizerConfig Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer config not found: {path}", path);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw JsonErrors.Describe(path, e);
        }
        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: expected a JSON object");
            var (template, named) = ReadChatTemplate(root, path);
            return new TokenizerConfig
            {
                Path = path,
                ChatTemplate = template,
                NamedChatTemplates = named,
                BosToken = Token(root, "bos_token", path),
                EosToken = Token(root, "eos_token", path),
                PadToken = Token(root, "pad_token", path),
                UnkToken = Token(root, "unk_token", path),
                MaskToken = Token(root, "mask_token", path),
                AddBosToken = Bool(root, "add_bos_token", path),
                AddEosToken = Bool(root, "add_eos_token", path),
                CleanUpTokenizationSpaces = Bool(root, "clean_up_tokenization_spaces", path) ?? false,
            };
        }
    }

    private static (string?, Dictionary<string, string>) ReadChatTemplate(JsonElement root, string path)
    {
        var named = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!root.TryGetProperty("chat_template", out JsonElement t) || t.ValueKind == JsonValueKind.Null) return (null, named);
        if (t.ValueKind == JsonValueKind.String) return (t.GetString(), named);
        if (t.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{path}: \"chat_template\" must be a string or a list of {{name, template}} objects");
        foreach (JsonElement item in t.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object
                || !item.TryGetProperty("name", out JsonElement n) || n.ValueKind != JsonValueKind.String
                || !item.TryGetProperty("template", out JsonElement s) || s.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{path}: each \"chat_template\" entry needs a string \"name\" and \"template\"");
            named[n.GetString()!] = s.GetString()!;
        }
        return (named.GetValueOrDefault("default"), named);
    }

    private static string? Token(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out JsonElement v)) return null;
        switch (v.ValueKind)
        {
            case JsonValueKind.Null: return null;
            case JsonValueKind.String: return v.GetString();
            case JsonValueKind.Object when v.TryGetProperty("content", out JsonElement c) && c.ValueKind == JsonValueKind.String:
                return c.GetString();
            default:
                throw new InvalidDataException($"{path}: \"{name}\" must be a string, null or an AddedToken object with \"content\"");
        }
    }

    private static bool? Bool(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new InvalidDataException($"{path}: \"{name}\" must be true or false"),
        };
    }
}
