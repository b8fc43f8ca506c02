using System.Text.Json;
using Dllm.IO;

namespace Dllm.Text;

/// <summary>One entry of a <c>tokenizer.json</c> <c>added_tokens</c> array.</summary>
/// <param name="Content">The exact text of the token, matched whole in input text.</param>
/// <param name="Id">Its id.</param>
/// <param name="Special">HF's <c>special</c> flag: special tokens are dropped by <c>skipSpecialTokens</c>.</param>
internal sealed record AddedTokenEntry(string Content, int Id, bool Special);

/// <summary>
/// The fields of a Hugging Face <c>tokenizer.json</c> that a byte-level BPE needs, validated.
/// </summary>
/// <remarks>
/// Why not a typed JSON deserializer: <c>merges</c> comes in two shapes (<c>"a b"</c> strings in older
/// files, <c>["a","b"]</c> pairs since tokenizers 0.20) and the pre-tokenizer is a recursive union, so
/// reading the DOM keeps the error messages precise.
/// </remarks>
internal sealed class TokenizerJsonData
{
    public required Dictionary<string, int> Vocab { get; init; }
    public required List<(string Left, string Right)> Merges { get; init; }
    public required List<AddedTokenEntry> AddedTokens { get; init; }
    public required PreTokenizerSpec PreTokenizer { get; init; }
    public required bool IgnoreMerges { get; init; }

    /// <summary>Id of <paramref name="token"/> among the added tokens, then the vocabulary; null if absent.</summary>
    public int? FindId(string token)
    {
        foreach (AddedTokenEntry t in AddedTokens)
            if (t.Content == token) return t.Id;
        return Vocab.TryGetValue(token, out int id) ? id : null;
    }

    /// <summary>Reads and validates <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Malformed JSON or missing/ill-typed fields (message names the file).</exception>
    /// <exception cref="NotSupportedException">Not a byte-level BPE model.</exception>
    public static TokenizerJsonData Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer file not found: {path}", path);
        JsonDocument doc;
        try
        {
            using FileStream stream = File.OpenRead(path);
            doc = JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true, MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw JsonErrors.Describe(path, e);
        }
        using (doc)
        {
            try
            {
                return FromRoot(doc.RootElement);
            }
            catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException)
            {
                // GetProperty/GetString/GetInt32 on a missing or wrongly typed field.
                throw new InvalidDataException($"{path}: unexpected tokenizer.json structure: {JsonErrors.OneLine(e.Message)}", e);
            }
            catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{path}: {e.Message}", e);
            }
            catch (NotSupportedException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
            {
                throw new NotSupportedException($"{path}: {e.Message}", e);
            }
        }
    }

    private static TokenizerJsonData FromRoot(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out JsonElement model)
            || model.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException("no \"model\" object; is this a Hugging Face tokenizer.json?");

        string? type = model.TryGetProperty("type", out JsonElement t) ? t.GetString() : null;
        // Files written by old versions omit model.type; "merges" is then the tell-tale of BPE.
        type ??= model.TryGetProperty("merges", out _) ? "BPE" : "(missing)";
        if (type != "BPE")
            throw new NotSupportedException(
                $"tokenizer model type '{type}' is not supported; only byte-level BPE (model.type \"BPE\") is implemented");

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty p in model.GetProperty("vocab").EnumerateObject())
            vocab[p.Name] = p.Value.GetInt32();
        if (vocab.Count == 0) throw new InvalidDataException("model.vocab is empty");

        var merges = new List<(string, string)>();
        if (model.TryGetProperty("merges", out JsonElement mergesEl))
        {
            int i = 0;
            foreach (JsonElement m in mergesEl.EnumerateArray())
            {
                merges.Add(ReadMerge(m, i));
                i++;
            }
        }

        var added = new List<AddedTokenEntry>();
        if (root.TryGetProperty("added_tokens", out JsonElement addedEl) && addedEl.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement a in addedEl.EnumerateArray())
            {
                bool special = a.TryGetProperty("special", out JsonElement s) && s.ValueKind == JsonValueKind.True;
                added.Add(new AddedTokenEntry(a.GetProperty("content").GetString()!, a.GetProperty("id").GetInt32(), special));
            }
        }

        var pre = PreTokenizerSpec.Parse(Optional(root, "normalizer"), Optional(root, "pre_tokenizer"));
        if (Optional(root, "decoder") is { ValueKind: JsonValueKind.Object } dec && ContainsByteLevel(dec))
            pre.MarkByteLevel();
        if (!pre.SawByteLevel)
            throw new NotSupportedException(
                "BPE without a ByteLevel pre-tokenizer or decoder is not supported (SentencePiece-style BPE, e.g. Llama-2, is not implemented)");

        bool ignoreMerges = model.TryGetProperty("ignore_merges", out JsonElement im) && im.ValueKind == JsonValueKind.True;
        if (model.TryGetProperty("dropout", out JsonElement dr) && dr.ValueKind == JsonValueKind.Number && dr.GetDouble() > 0)
            throw new NotSupportedException("BPE dropout is not supported (it makes encoding random)");

        return new TokenizerJsonData { Vocab = vocab, Merges = merges, AddedTokens = added, PreTokenizer = pre, IgnoreMerges = ignoreMerges };
    }

    private static (string, string) ReadMerge(JsonElement m, int index)
    {
        if (m.ValueKind == JsonValueKind.String)
        {
            // Byte-level tokens never contain a real space (it is written 'Ġ'), so one space separates the pair.
            string s = m.GetString()!;
            int sp = s.IndexOf(' ');
            if (sp <= 0 || sp == s.Length - 1 || s.IndexOf(' ', sp + 1) >= 0)
                throw new InvalidDataException($"merge #{index} \"{s}\" is not two tokens separated by one space");
            return (s[..sp], s[(sp + 1)..]);
        }
        if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2)
        {
            string a = m[0].GetString()!, b = m[1].GetString()!;
            if (a.Length == 0 || b.Length == 0 || a.Contains(' ') || b.Contains(' '))
                throw new NotSupportedException($"merge #{index} has an empty token or one containing a space");
            return (a, b);
        }
        throw new InvalidDataException($"merge #{index} is neither \"a b\" nor [\"a\", \"b\"]");
    }

    private static JsonElement? Optional(JsonElement obj, string name)
        => obj.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static bool ContainsByteLevel(JsonElement e)
    {
        if (e.TryGetProperty("type", out JsonElement t) && t.GetString() == "ByteLevel") return true;
        if (e.TryGetProperty("decoders", out JsonElement list) && list.ValueKind == JsonValueKind.Array)
            return list.EnumerateArray().Any(ContainsByteLevel);
        return false;
    }
}
