using System.Globalization;
using System.Text;
using System.Text.Json;
using Dllm.IO;

namespace Dllm.Text;

/// <summary>
/// The trivial tokenizer for small self-trained models: one id per UTF-8 byte (0..255), then the LLaDA
/// special tokens: 256 <c>&lt;|startoftext|&gt;</c> (BOS), 257 <c>&lt;|endoftext|&gt;</c> (EOS),
/// 258 <c>&lt;|mdm_mask|&gt;</c>, 259 <c>&lt;|start_header_id|&gt;</c>, 260 <c>&lt;|end_header_id|&gt;</c>,
/// 261 <c>&lt;|eot_id|&gt;</c>. <see cref="VocabSize"/> is 262.
/// </summary>
/// <remarks>
/// <para>Why: a model trained from scratch on a laptop cannot afford a 126k-row embedding, and bytes need
/// no training data or merges file. Every string round-trips exactly.</para>
/// <para>Special tokens written literally in text are recognised whole, so the chat template can be built
/// from text. Decoding invalid UTF-8 (a half-trained model emits arbitrary bytes) gives U+FFFD, never an
/// exception; ids outside 0..261 also decode to U+FFFD.</para>
/// <para>Token strings (<see cref="IdToToken"/>): printable ASCII bytes are themselves ("a"), other bytes
/// are written <c>&lt;0xAB&gt;</c> (SentencePiece's byte-fallback spelling); <see cref="TokenToId"/>
/// accepts both spellings.</para>
/// </remarks>
public sealed class ByteTokenizer : ITokenizer, ISavableTokenizer
{
    /// <summary>Id of <c>&lt;|startoftext|&gt;</c>.</summary>
    public const int Bos = 256;
    /// <summary>Id of <c>&lt;|endoftext|&gt;</c>.</summary>
    public const int Eos = 257;
    /// <summary>Id of <c>&lt;|mdm_mask|&gt;</c>.</summary>
    public const int Mask = 258;
    /// <summary>Id of <c>&lt;|start_header_id|&gt;</c>.</summary>
    public const int StartHeader = 259;
    /// <summary>Id of <c>&lt;|end_header_id|&gt;</c>.</summary>
    public const int EndHeader = 260;
    /// <summary>Id of <c>&lt;|eot_id|&gt;</c>.</summary>
    public const int EndOfTurn = 261;

    /// <summary>Value of the <c>dllm_tokenizer</c> field that marks a byte-tokenizer descriptor.</summary>
    public const string DescriptorKind = "byte";

    /// <summary>Descriptor format version written by <see cref="SaveTokenizerJson"/>.</summary>
    public const int DescriptorVersion = 1;

    // Order = ids 256, 257, ...
    private static readonly string[] SpecialNames =
    [
        LladaTokens.StartOfText, LladaTokens.EndOfText, LladaTokens.Mask,
        LladaTokens.StartHeader, LladaTokens.EndHeader, LladaTokens.EndOfTurn,
    ];

    private static readonly SpecialTokenSplitter Splitter = new(
        SpecialNames.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => 256 + p.i));

    /// <inheritdoc/>
    public int VocabSize => 256 + SpecialNames.Length;

    /// <inheritdoc/>
    public int? BosId => Bos;

    /// <inheritdoc/>
    public int EosId => Eos;

    /// <inheritdoc/>
    public int MaskId => Mask;

    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length);
        foreach (var (segment, specialId) in Splitter.Split(text))
        {
            if (specialId is int sid) ids.Add(sid);
            else foreach (byte b in Encoding.UTF8.GetBytes(segment)) ids.Add(b);
        }
        return ids;
    }

    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if ((uint)id < 256) bytes.Add((byte)id);
            else if ((uint)id < (uint)VocabSize)
            {
                if (!skipSpecialTokens) bytes.AddRange(Encoding.UTF8.GetBytes(SpecialNames[id - 256]));
            }
            else bytes.AddRange("\uFFFD"u8);
        }
        return Utf8Lenient.Decode(bytes);
    }

    /// <inheritdoc/>
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        int special = Array.IndexOf(SpecialNames, token);
        if (special >= 0) return 256 + special;
        if (token.Length == 1 && token[0] < 128) return token[0];
        if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            return b;
        return null;
    }

    /// <inheritdoc/>
    public string? IdToToken(int id)
    {
        if (id is >= 0x21 and <= 0x7E) return ((char)id).ToString();
        if ((uint)id < 256) return $"<0x{id:X2}>";
        return id < VocabSize ? SpecialNames[id - 256] : null;
    }

    /// <summary>True for the special ids 256..261.</summary>
    public static bool IsSpecial(int id) => id is >= 256 and < 262;

    /// <summary>
    /// Writes a small descriptor <c>{"dllm_tokenizer": "byte", "version": 1, "vocab_size": 262,
    /// "added_tokens": [...]}</c> so that a model directory is self-describing; <see cref="TokenizerLoader"/>
    /// recognises it. It is not a Hugging Face tokenizer (HF tools cannot load it).
    /// </summary>
    public void SaveTokenizerJson(string path)
    {
        using FileStream stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteString("dllm_tokenizer", DescriptorKind);
        w.WriteNumber("version", DescriptorVersion);
        w.WriteNumber("vocab_size", VocabSize);
        w.WriteStartArray("added_tokens");
        for (int i = 0; i < SpecialNames.Length; i++)
        {
            w.WriteStartObject();
            w.WriteNumber("id", 256 + i);
            w.WriteString("content", SpecialNames[i]);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>
    /// Checks a parsed descriptor written by <see cref="SaveTokenizerJson"/>: the version must be known and
    /// the listed added tokens must be exactly this tokenizer's (a mismatch means another layout was saved).
    /// </summary>
    /// <exception cref="InvalidDataException">Unknown version (a version that is not the integer
    /// <see cref="DescriptorVersion"/>, e.g. 1.0, names the value found), a malformed added_tokens entry,
    /// or different special tokens.</exception>
    internal static void ValidateDescriptor(JsonElement root, string path)
    {
        JsonErrors.CheckStrings(root, path);
        bool hasVersion = root.TryGetProperty("version", out JsonElement v);
        if (!hasVersion || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int version) || version != DescriptorVersion)
            throw new InvalidDataException($"{path}: byte tokenizer descriptor version {(hasVersion ? v.GetRawText() : "(missing)")} is not supported (expected the integer {DescriptorVersion})");
        if (!root.TryGetProperty("added_tokens", out JsonElement added) || added.ValueKind != JsonValueKind.Array) return;
        foreach (JsonElement a in added.EnumerateArray())
        {
            if (a.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: added_tokens entries must be objects, found {a.ValueKind}");
            int id = a.TryGetProperty("id", out JsonElement idEl) && idEl.ValueKind == JsonValueKind.Number && idEl.TryGetInt32(out int i) ? i : -1;
            string? content = a.TryGetProperty("content", out JsonElement c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            if (!IsSpecial(id) || SpecialNames[id - 256] != content)
                throw new InvalidDataException($"{path}: byte tokenizer descriptor lists token {content ?? "?"} at id {id}, which differs from this build's layout");
        }
    }
}
