using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dllm.IO;

namespace Dllm.Text;

/// <summary>
/// A tokenizer for synthetic tasks: one id per whole word of a vocabulary built from training text, so that
/// names, Sudoku cells and digits are single tokens. Text is split as Hugging Face's <c>Whitespace</c>
/// pre-tokenizer splits it (regex <c>\w+|[^\w\s]+</c>: runs of word characters, runs of punctuation); a word
/// not in the vocabulary becomes <see cref="UnknownToken"/>.
/// </summary>
/// <remarks>
/// <para>Ids: 0 <c>[UNK]</c>, 1 <c>&lt;|startoftext|&gt;</c> (BOS), 2 <c>&lt;|endoftext|&gt;</c> (EOS),
/// 3 <c>&lt;|mdm_mask|&gt;</c>, 4 <c>&lt;|start_header_id|&gt;</c>, 5 <c>&lt;|end_header_id|&gt;</c>,
/// 6 <c>&lt;|eot_id|&gt;</c>, then the words, most frequent first (ties in ordinal order) — for a vocabulary
/// made by <see cref="Build"/>; a loaded file keeps its own ids.</para>
/// <para><b>Whitespace is not preserved</b>: <see cref="Decode"/> joins tokens with single spaces, so
/// "a, b" decodes as "a , b". This is a tokenizer for synthetic tasks, not for natural text.</para>
/// <para>Saved (<see cref="SaveTokenizerJson"/>) as a real Hugging Face <c>tokenizer.json</c> (model
/// <c>WordLevel</c>, pre-tokenizer <c>Whitespace</c>, specials in <c>added_tokens</c>), which
/// <see cref="TokenizerLoader.Load"/> and Hugging Face <c>tokenizers</c> both read.</para>
/// </remarks>
public sealed class WordLevelTokenizer : ITokenizer, ISavableTokenizer
{
    /// <summary>The unknown-word token of vocabularies made by <see cref="Build"/>.</summary>
    public const string DefaultUnknownToken = "[UNK]";

    /// <summary>The special tokens every word-level vocabulary has, in the order <see cref="Build"/> numbers them (from 1).</summary>
    public static readonly IReadOnlyList<string> SpecialTokens =
    [
        LladaTokens.StartOfText, LladaTokens.EndOfText, LladaTokens.Mask,
        LladaTokens.StartHeader, LladaTokens.EndHeader, LladaTokens.EndOfTurn,
    ];

    private static readonly Regex WordPattern = new(@"\w+|[^\w\s]+", RegexOptions.CultureInvariant | RegexOptions.Compiled, PreTokenizerSpec.MatchTimeout);

    private readonly Dictionary<string, int> _vocab;
    private readonly string[] _tokens;
    private readonly bool[] _special;
    private readonly SpecialTokenSplitter _splitter;

    private WordLevelTokenizer(Dictionary<string, int> vocab, string unknownToken, IReadOnlyCollection<string> specials)
    {
        _vocab = vocab;
        _tokens = new string[vocab.Count];
        foreach (var (token, id) in vocab) _tokens[id] = token;
        _special = new bool[vocab.Count];
        foreach (string s in specials) _special[vocab[s]] = true;
        UnknownToken = unknownToken;
        UnknownId = vocab[unknownToken];
        _splitter = new SpecialTokenSplitter(specials.ToDictionary(s => s, s => vocab[s], StringComparer.Ordinal));
        BosId = vocab[LladaTokens.StartOfText];
        EosId = vocab[LladaTokens.EndOfText];
        MaskId = vocab[LladaTokens.Mask];
    }

    /// <summary>The token unseen words become (<c>[UNK]</c> for vocabularies made by <see cref="Build"/>).</summary>
    public string UnknownToken { get; }

    /// <summary>Id of <see cref="UnknownToken"/>.</summary>
    public int UnknownId { get; }

    /// <inheritdoc/>
    public int VocabSize => _tokens.Length;

    /// <inheritdoc/>
    public int? BosId { get; }

    /// <inheritdoc/>
    public int EosId { get; }

    /// <inheritdoc/>
    public int MaskId { get; }

    /// <summary>Splits <paramref name="text"/> into words as the <c>Whitespace</c> pre-tokenizer does (special tokens are not recognised here).</summary>
    public static IEnumerable<string> SplitWords(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (Match m = WordPattern.Match(text); m.Success; m = m.NextMatch()) yield return m.Value;
    }

    /// <summary>
    /// Builds a vocabulary from <paramref name="texts"/>: the unknown token and the <see cref="SpecialTokens"/>,
    /// then every word seen at least <paramref name="minCount"/> times, most frequent first (ties in ordinal
    /// order, so the result depends on the texts only), at most <paramref name="maxVocab"/> ids in all.
    /// Special tokens written literally in the texts are not counted as words.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minCount"/> &lt; 1, or
    /// <paramref name="maxVocab"/> too small to hold the 7 fixed tokens.</exception>
    public static WordLevelTokenizer Build(IEnumerable<string> texts, int minCount = 1, int? maxVocab = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentOutOfRangeException.ThrowIfLessThan(minCount, 1);
        int fixedCount = 1 + SpecialTokens.Count;
        if (maxVocab is int mv) ArgumentOutOfRangeException.ThrowIfLessThan(mv, fixedCount, nameof(maxVocab));
        var splitter = new SpecialTokenSplitter(SpecialTokens.Select((s, i) => (s, i)).ToDictionary(p => p.s, p => p.i));
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string text in texts)
            foreach (var (segment, specialId) in splitter.Split(text ?? throw new ArgumentException("a text is null", nameof(texts))))
                if (specialId is null)
                    foreach (string w in SplitWords(segment))
                        counts[w] = counts.GetValueOrDefault(w) + 1;

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal) { [DefaultUnknownToken] = 0 };
        foreach (string s in SpecialTokens) vocab[s] = vocab.Count;
        IEnumerable<string> words = counts.Where(kv => kv.Value >= minCount && !vocab.ContainsKey(kv.Key))
            .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key);
        if (maxVocab is int max) words = words.Take(max - fixedCount);
        foreach (string w in words) vocab[w] = vocab.Count;
        return new WordLevelTokenizer(vocab, DefaultUnknownToken, SpecialTokens.ToArray());
    }

    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        foreach (var (segment, specialId) in _splitter.Split(text))
        {
            if (specialId is int sid) ids.Add(sid);
            else foreach (string w in SplitWords(segment)) ids.Add(_vocab.TryGetValue(w, out int id) ? id : UnknownId);
        }
        return ids;
    }

    /// <summary>Decodes ids to their tokens joined by single spaces (whitespace of the original text is not
    /// preserved). Ids outside the vocabulary become U+FFFD.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            string piece;
            if ((uint)id < (uint)_tokens.Length)
            {
                if (skipSpecialTokens && _special[id]) continue;
                piece = _tokens[id];
            }
            else piece = "\uFFFD";
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(piece);
        }
        return sb.ToString();
    }

    /// <inheritdoc/>
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _vocab.TryGetValue(token, out int id) ? id : null;
    }

    /// <inheritdoc/>
    public string? IdToToken(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;

    /// <summary>
    /// Writes a Hugging Face <c>tokenizer.json</c>: <c>"model": {"type": "WordLevel", "vocab": {...},
    /// "unk_token": "[UNK]"}</c>, <c>"pre_tokenizer": {"type": "Whitespace"}</c> and the special tokens in
    /// <c>added_tokens</c> (<c>"special": true</c>).
    /// </summary>
    public void SaveTokenizerJson(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            for (int id = 0; id < _tokens.Length; id++)
            {
                if (!_special[id]) continue;
                w.WriteStartObject();
                w.WriteNumber("id", id);
                w.WriteString("content", _tokens[id]);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("normalizer");
            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "Whitespace");
            w.WriteEndObject();
            w.WriteNull("post_processor");
            w.WriteNull("decoder");
            w.WriteStartObject("model");
            w.WriteString("type", "WordLevel");
            w.WriteStartObject("vocab");
            for (int id = 0; id < _tokens.Length; id++) w.WriteNumber(_tokens[id], id);
            w.WriteEndObject();
            w.WriteString("unk_token", UnknownToken);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        AtomicFile.WriteAllText(path, Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>
    /// Reads a Hugging Face <c>tokenizer.json</c> whose model is <c>WordLevel</c>. The vocabulary's ids must be
    /// exactly 0..n−1 (added tokens may add the next ids); the unknown token and the LLaDA BOS, EOS and mask
    /// tokens must be present.
    /// </summary>
    /// <exception cref="InvalidDataException">Malformed JSON, a missing or ill-typed field, a duplicate or
    /// out-of-range id, a missing required token; the message names the file and field.</exception>
    public static WordLevelTokenizer Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer file not found: {path}", path);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw JsonErrors.Describe(path, e);
        }
        using (doc) return FromRoot(doc.RootElement, path);
    }

    private static WordLevelTokenizer FromRoot(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path}: no \"model\" object; is this a Hugging Face tokenizer.json?");
        if (!model.TryGetProperty("vocab", out JsonElement vocabEl) || vocabEl.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path}: model.vocab is missing or not an object");

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var byId = new Dictionary<int, string>();
        foreach (JsonProperty p in vocabEl.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id))
                throw new InvalidDataException($"{path}: model.vocab[\"{p.Name}\"] is {p.Value.GetRawText()}, not an integer id");
            if (!vocab.TryAdd(p.Name, id))
                throw new InvalidDataException($"{path}: model.vocab lists \"{p.Name}\" twice");
            if (!byId.TryAdd(id, p.Name))
                throw new InvalidDataException($"{path}: model.vocab gives id {id} to both \"{byId[id]}\" and \"{p.Name}\"");
        }
        if (vocab.Count == 0) throw new InvalidDataException($"{path}: model.vocab is empty");
        foreach (var (token, id) in vocab)
            if (id < 0 || id >= vocab.Count)
                throw new InvalidDataException($"{path}: model.vocab[\"{token}\"] = {id} is out of range 0..{vocab.Count - 1} (ids must be 0..n-1 without gaps)");

        var specials = new List<string>();
        if (root.TryGetProperty("added_tokens", out JsonElement added) && added.ValueKind != JsonValueKind.Null)
        {
            if (added.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{path}: added_tokens is not an array");
            int i = 0;
            foreach (JsonElement a in added.EnumerateArray())
            {
                string where = $"added_tokens[{i++}]";
                if (a.ValueKind != JsonValueKind.Object
                    || !a.TryGetProperty("content", out JsonElement c) || c.ValueKind != JsonValueKind.String || c.GetString()!.Length == 0
                    || !a.TryGetProperty("id", out JsonElement idEl) || idEl.ValueKind != JsonValueKind.Number || !idEl.TryGetInt32(out int id))
                    throw new InvalidDataException($"{path}: {where} must be an object with a non-empty string \"content\" and an integer \"id\"");
                string content = c.GetString()!;
                if (vocab.TryGetValue(content, out int existing))
                {
                    if (existing != id)
                        throw new InvalidDataException($"{path}: {where} gives \"{content}\" id {id}, but model.vocab gives it {existing}");
                }
                else if (id == vocab.Count)
                {
                    vocab[content] = id;
                    byId[id] = content;
                }
                else if (byId.TryGetValue(id, out string? other))
                    throw new InvalidDataException($"{path}: {where} gives id {id} to \"{content}\", which model.vocab gives to \"{other}\"");
                else
                    throw new InvalidDataException($"{path}: {where} id {id} of \"{content}\" is out of range (the next free id is {vocab.Count})");
                if (!specials.Contains(content)) specials.Add(content);
            }
        }

        string unk = model.TryGetProperty("unk_token", out JsonElement u) && u.ValueKind == JsonValueKind.String ? u.GetString()! : "";
        if (unk.Length == 0) throw new InvalidDataException($"{path}: model.unk_token is missing (a WordLevel model needs one)");
        if (!vocab.ContainsKey(unk)) throw new InvalidDataException($"{path}: model.unk_token \"{unk}\" is not in model.vocab");
        foreach (string required in new[] { LladaTokens.StartOfText, LladaTokens.EndOfText, LladaTokens.Mask })
            if (!vocab.ContainsKey(required))
                throw new InvalidDataException($"{path}: added_tokens has no {required} (Dllm needs BOS {LladaTokens.StartOfText}, EOS {LladaTokens.EndOfText} and mask {LladaTokens.Mask})");
        // The LLaDA chat tokens are recognised whole in text even when a file forgot to list them as added tokens.
        foreach (string s in SpecialTokens)
            if (vocab.ContainsKey(s) && !specials.Contains(s)) specials.Add(s);
        return new WordLevelTokenizer(vocab, unk, specials);
    }
}
