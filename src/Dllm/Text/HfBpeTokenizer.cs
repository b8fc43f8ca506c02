using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Dllm.Text;

/// <summary>
/// A byte-level BPE tokenizer read from a Hugging Face <c>tokenizer.json</c> (the format of LLaDA,
/// Llama-3, GPT-2, Qwen2/2.5/3 (Dream, SDAR, Fast-dLLM v2)...). Splitting on added tokens and pre-tokenization are done here; the BPE merges
/// on each piece are done by Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> (byte-level mode).
/// </summary>
/// <remarks>
/// <para>Encoding order, as in HF: (1) added tokens (special or not) are cut out whole, leftmost-longest;
/// (2) each remaining run is normalized (NFC &amp; co. if the file asks), optionally gets a prefix space,
/// and is split by the pre-tokenizer regex(es); (3) each piece is written as bytes through the GPT-2
/// byte map and merged by BPE rank (or looked up whole when the model sets <c>ignore_merges</c>).</para>
/// <para>Not applied: the <c>post_processor</c> (BOS is added by <see cref="ChatTemplate"/>, never by
/// <see cref="Encode"/>), truncation/padding, added-token lstrip/rstrip/single_word, BPE dropout.</para>
/// <para>With a tokenizer_config.json (<see cref="TokenizerLoader"/> reads it) the special ids, the end-of-turn
/// token and the chat template come from it, and decoding applies <c>clean_up_tokenization_spaces</c> as
/// transformers does.</para>
/// <para>Thread-safety: immutable after loading; <see cref="Encode"/> and <see cref="Decode"/>
/// can be called concurrently.</para>
/// </remarks>
public sealed class HfBpeTokenizer : ITokenizer
{
    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<string, int> _vocab;          // model vocabulary + added tokens
    private readonly Dictionary<int, string> _idToToken;
    private readonly Dictionary<int, bool> _addedIsSpecial;   // added-token id -> its "special" flag
    private readonly SpecialTokenSplitter _splitter;
    private readonly PreTokenizerSpec _pre;
    private readonly bool _ignoreMerges;

    private HfBpeTokenizer(TokenizerJsonData data, BpeTokenizer bpe, SpecialTokenIds ids, TokenizerConfig? config, ModelChatTemplate? template)
    {
        _bpe = bpe;
        _pre = data.PreTokenizer;
        _ignoreMerges = data.IgnoreMerges;
        _vocab = new Dictionary<string, int>(data.Vocab, StringComparer.Ordinal);
        _addedIsSpecial = [];
        foreach (var t in data.AddedTokens)
        {
            _vocab[t.Content] = t.Id;
            _addedIsSpecial[t.Id] = t.Special;
        }
        _idToToken = [];
        foreach (var (token, id) in data.Vocab) _idToToken[id] = token;
        foreach (var t in data.AddedTokens) _idToToken[t.Id] = t.Content; // an added token wins over a vocab entry
        _splitter = new SpecialTokenSplitter(data.AddedTokens.ToDictionary(t => t.Content, t => t.Id));
        VocabSize = _idToToken.Count == 0 ? 0 : _idToToken.Keys.Max() + 1;
        BosId = ids.Bos;
        EosId = ids.Eos;
        MaskId = ids.Mask;
        EndOfTurnId = ids.EndOfTurn;
        Config = config;
        ModelTemplate = template;
    }

    /// <summary>
    /// Loads a byte-level BPE <c>tokenizer.json</c> without a tokenizer_config.json.
    /// </summary>
    /// <param name="tokenizerJsonPath">Path of the Hugging Face <c>tokenizer.json</c>.</param>
    /// <param name="eosId">EOS id; when null, the id of <c>&lt;|endoftext|&gt;</c>.</param>
    /// <param name="maskId">Mask id; when null, the id of <c>&lt;|mdm_mask|&gt;</c> (or <c>&lt;|mask|&gt;</c>).</param>
    /// <param name="bosId">BOS id; when null, the id of <c>&lt;|startoftext|&gt;</c> if the file has it, else none.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Not JSON, or JSON without the fields a BPE model needs, or a
    /// default EOS/mask token is missing (pass the id explicitly then). The message names the file.</exception>
    /// <exception cref="NotSupportedException">The model is not a byte-level BPE (WordPiece, Unigram,
    /// SentencePiece-style BPE...), or the pre-tokenizer/normalizer is a kind this loader does not implement.</exception>
    public static HfBpeTokenizer Load(string tokenizerJsonPath, int? eosId = null, int? maskId = null, int? bosId = null)
        => Load(tokenizerJsonPath, null, new TokenizerOptions { EosId = eosId, MaskId = maskId, BosId = bosId });

    /// <summary>
    /// Loads a byte-level BPE <c>tokenizer.json</c> with its tokenizer_config.json (already read): special ids
    /// and the chat template come from the config, as <see cref="SpecialTokenIds.Resolve"/> describes.
    /// </summary>
    /// <param name="tokenizerJsonPath">Path of the Hugging Face <c>tokenizer.json</c>.</param>
    /// <param name="config">The parsed tokenizer_config.json, or null.</param>
    /// <param name="options">Overrides of the special ids, or null.</param>
    /// <param name="chatTemplate">The chat template source and its name for errors; when null, the config's
    /// <c>chat_template</c> (if any).</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Malformed file, or a special token named by the config or options
    /// that is not in the vocabulary, or no EOS/mask; the message names the file and field.</exception>
    /// <exception cref="NotSupportedException">Not a byte-level BPE, or an unsupported pre-tokenizer/normalizer.</exception>
    /// <exception cref="Jinja.TemplateException">The chat template does not parse.</exception>
    public static HfBpeTokenizer Load(string tokenizerJsonPath, TokenizerConfig? config, TokenizerOptions? options = null,
        (string Source, string Name)? chatTemplate = null)
        => Create(TokenizerJsonData.Read(tokenizerJsonPath), tokenizerJsonPath, config, options, chatTemplate);

    /// <summary>
    /// Builds the tokenizer from data already read (a tokenizer.json, or a GGUF's <c>tokenizer.ggml.*</c> metadata
    /// turned into the same shape by <see cref="GgufTokenizer"/>); <paramref name="origin"/> names it in errors.
    /// </summary>
    internal static HfBpeTokenizer Create(TokenizerJsonData data, string origin, TokenizerConfig? config,
        TokenizerOptions? options, (string Source, string Name)? chatTemplate)
    {
        chatTemplate ??= config?.ChatTemplate is { } t ? (t, config.Path + " chat_template") : null;
        SpecialTokenIds ids = SpecialTokenIds.Resolve(data.FindId, origin, config, chatTemplate?.Source,
            options ?? new TokenizerOptions());
        ModelChatTemplate? template = chatTemplate is var (source, name)
            ? new ModelChatTemplate(source, name, config?.SpecialTokenVariables() ?? new Dictionary<string, string>())
            : null;

        var bpeOptions = new BpeOptions(data.Vocab)
        {
            Merges = data.Merges.Select(m => m.Left + " " + m.Right),
            ByteLevel = true,
            // Pre-tokenization and special tokens are handled by this class; see Encode.
            PreTokenizer = null,
            Normalizer = null,
        };
        BpeTokenizer bpe;
        try
        {
            bpe = BpeTokenizer.Create(bpeOptions);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{origin}: BPE vocabulary/merges rejected: {e.Message}", e);
        }
        return new HfBpeTokenizer(data, bpe, ids, config, template);
    }

    /// <summary>The tokenizer_config.json this tokenizer was loaded with, or null.</summary>
    public TokenizerConfig? Config { get; }

    /// <inheritdoc/>
    public int? EndOfTurnId { get; }

    /// <inheritdoc/>
    public ModelChatTemplate? ModelTemplate { get; }

    /// <inheritdoc/>
    public int VocabSize { get; }

    /// <inheritdoc/>
    public int? BosId { get; }

    /// <inheritdoc/>
    public int EosId { get; }

    /// <inheritdoc/>
    public int MaskId { get; }

    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        foreach (var (segment, specialId) in _splitter.Split(text))
        {
            if (specialId is int sid)
            {
                ids.Add(sid);
                continue;
            }
            foreach (string piece in _pre.Split(segment))
            {
                if (_ignoreMerges && _vocab.TryGetValue(ByteLevelMap.Encode(piece), out int whole))
                {
                    ids.Add(whole);
                    continue;
                }
                // The piece is already pre-tokenized; ML.Tokenizers only maps bytes and applies merges.
                ids.AddRange(_bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
            }
        }
        return ids;
    }

    /// <inheritdoc/>
    /// <remarks>Ids outside the vocabulary decode to U+FFFD rather than throwing: a model's embedding table is
    /// often larger than its tokenizer (LLaDA pads to 126464), and a sampled padding id must not crash a
    /// display. Added tokens with <c>special: false</c> are kept even when skipping special tokens, as in HF.</remarks>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (_addedIsSpecial.TryGetValue(id, out bool special))
            {
                if (!(special && skipSpecialTokens))
                    bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(_idToToken[id]));
            }
            else if (_idToToken.TryGetValue(id, out string? token))
            {
                ByteLevelMap.AppendBytes(token, bytes);
            }
            else
            {
                bytes.AddRange("\uFFFD"u8);
            }
        }
        string text = Utf8Lenient.Decode(bytes);
        return Config is { CleanUpTokenizationSpaces: true } ? CleanUpTokenization(text) : text;
    }

    // transformers' clean_up_tokenization (tokenization_utils_base.py), applied by decode when the config sets
    // clean_up_tokenization_spaces (Llama-3's does): the space before punctuation and contractions goes.
    private static string CleanUpTokenization(string s) => s
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");

    /// <inheritdoc/>
    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    /// <inheritdoc/>
    public string? IdToToken(int id) => _idToToken.GetValueOrDefault(id);

    /// <summary>True when <paramref name="id"/> is an added token marked <c>special</c> in the file.</summary>
    public bool IsSpecial(int id) => _addedIsSpecial.TryGetValue(id, out bool s) && s;
}
