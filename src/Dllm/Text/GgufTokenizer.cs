using Dllm.IO;

namespace Dllm.Text;

/// <summary>
/// Reads the tokenizer a GGUF file carries in its <c>tokenizer.ggml.*</c> metadata into the same in-memory data a
/// Hugging Face tokenizer.json gives, and builds an <see cref="HfBpeTokenizer"/> from it.
/// </summary>
/// <remarks>
/// <para>Supported: <c>tokenizer.ggml.model = "gpt2"</c> (byte-level BPE) with <c>tokens</c>, <c>merges</c> ("a b"
/// strings), optional <c>token_type</c> (absent: every token normal), <c>pre</c> (see <see cref="GgufPreTokenizers"/>;
/// absent means <c>default</c>, as in llama.cpp), <c>bos/eos/padding/unknown/mask_token_id</c>,
/// <c>clean_spaces</c> (absent: true, llama.cpp's default for BPE) and <c>tokenizer.chat_template</c>. Any other
/// model (<c>llama</c> = SentencePiece, <c>bert</c>, <c>t5</c>, <c>rwkv</c>...) is refused in one line naming it.</para>
/// <para>Token types: normal and byte tokens form the BPE vocabulary; control and unknown tokens become added tokens
/// marked special, user-defined ones added tokens not special (all are matched whole in text, as in Hugging Face);
/// unused tokens (padding rows) are left out, so they decode to U+FFFD like any id the tokenizer does not know.
/// Lossy corner: a converter marks a non-special added token that looks special (<c>&lt;|fim_prefix|&gt;</c>) as
/// control, so decoding with <c>skipSpecialTokens</c> drops it where the tokenizer.json path keeps it.</para>
/// <para>Special ids go through <see cref="SpecialTokenIds.Resolve"/> exactly as a tokenizer.json's do: the GGUF's
/// bos/eos/pad/unk ids play tokenizer_config.json's token names (a GGUF without a bos id has no BOS), its mask id plays
/// config.json's <c>mask_token_id</c> (it may be an unused row, as config.json's may lie past the tokenizer), and without one the known mask names are tried; the caller's <see cref="TokenizerOptions"/> win.</para>
/// <para>A file written by Dllm for a checkpoint without a GGUF-representable tokenizer (tokens <c>t0</c>..<c>tN</c>, no
/// merges) is refused as carrying no tokenizer.</para>
/// </remarks>
internal static class GgufTokenizer
{
    /// <summary>Loads the tokenizer of the GGUF at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Missing or ill-typed metadata, an id out of range, a bad merge, or a
    /// placeholder vocabulary: one line naming the file and the key.</exception>
    /// <exception cref="NotSupportedException">A tokenizer model or pre-tokenizer name Dllm does not implement.</exception>
    /// <exception cref="Jinja.TemplateException">The chat template does not parse.</exception>
    public static HfBpeTokenizer Load(string path, TokenizerOptions? options = null)
    {
        using GgufFile f = GgufFile.Open(path);
        return Load(f, options);
    }

    /// <inheritdoc cref="Load(string, TokenizerOptions?)"/>
    public static HfBpeTokenizer Load(GgufFile f, TokenizerOptions? options = null)
    {
        string path = f.Path;
        InvalidDataException Bad(string key, string what) => new($"{path}: metadata '{key}' {what}");

        if (!f.Metadata.ContainsKey("tokenizer.ggml.model"))
            throw Bad("tokenizer.ggml.model", "is missing: the file carries no tokenizer; pass --prompt-ids (and --output ids)");
        string model = f.GetString("tokenizer.ggml.model");
        if (model != "gpt2")
            throw new NotSupportedException($"{path}: tokenizer.ggml.model '{PrintableText.Escape(model)}' is not supported: Dllm reads a GGUF's byte-level BPE tokenizer (\"gpt2\") only{(model == "llama" ? " (\"llama\" is SentencePiece)" : "")}; pass --prompt-ids, or use the model's Hugging Face directory");

        string[] tokens = Strings(f, "tokenizer.ggml.tokens") ?? throw Bad("tokenizer.ggml.tokens", "is missing");
        if (tokens.Length == 0) throw Bad("tokenizer.ggml.tokens", "is empty");
        string[] mergeLines = Strings(f, "tokenizer.ggml.merges") ?? throw Bad("tokenizer.ggml.merges", "is missing (a gpt2 tokenizer needs its BPE merges)");
        if (mergeLines.Length == 0 && tokens[0] == "t0" && tokens[^1] == "t" + (tokens.Length - 1))
            throw Bad("tokenizer.ggml.tokens", "is Dllm's placeholder t0..tN: the file carries no tokenizer (it was exported from a checkpoint whose tokenizer GGUF cannot hold); pass --prompt-ids (and --output ids)");
        int[] types = Ints(f, "tokenizer.ggml.token_type") ?? [.. Enumerable.Repeat((int)GgufTokenType.Normal, tokens.Length)];
        if (types.Length != tokens.Length)
            throw Bad("tokenizer.ggml.token_type", $"has {types.Length} entries for {tokens.Length} tokens");

        var vocab = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        var added = new List<AddedTokenEntry>();
        for (int id = 0; id < tokens.Length; id++)
        {
            switch ((GgufTokenType)types[id])
            {
                case GgufTokenType.Normal or GgufTokenType.Byte: vocab.TryAdd(tokens[id], id); break; // first id wins, as in llama.cpp
                case GgufTokenType.Control or GgufTokenType.Unknown: added.Add(new AddedTokenEntry(tokens[id], id, Special: true)); break;
                case GgufTokenType.UserDefined: added.Add(new AddedTokenEntry(tokens[id], id, Special: false)); break;
                case GgufTokenType.Unused: break;
                default: throw Bad("tokenizer.ggml.token_type", $"entry {id} is {types[id]}, not a token type (1 to 6)");
            }
        }
        if (vocab.Count == 0) throw Bad("tokenizer.ggml.token_type", "marks no token as normal: there is no BPE vocabulary");

        var merges = new List<(string, string)>(mergeLines.Length);
        for (int i = 0; i < mergeLines.Length; i++)
        {
            // Byte-level tokens never hold a real space (it is written 'Ġ'), so exactly one space separates the pair.
            string m = mergeLines[i];
            int sp = m.IndexOf(' ');
            if (sp <= 0 || sp == m.Length - 1 || m.IndexOf(' ', sp + 1) >= 0)
                throw Bad("tokenizer.ggml.merges", $"entry {i} \"{m}\" is not two tokens separated by one space");
            merges.Add((m[..sp], m[(sp + 1)..]));
        }

        string pre = f.Metadata.ContainsKey("tokenizer.ggml.pre") ? f.GetString("tokenizer.ggml.pre") : "default";
        var (spec, ignoreMerges) = GgufPreTokenizers.Find(pre)
            ?? throw new NotSupportedException($"{path}: tokenizer.ggml.pre '{PrintableText.Escape(pre)}' is not a pre-tokenizer Dllm implements ({string.Join(", ", GgufPreTokenizers.Known)}); pass --prompt-ids");
        var data = new TokenizerJsonData { Vocab = vocab, Merges = merges, AddedTokens = added, PreTokenizer = spec, IgnoreMerges = ignoreMerges };

        string? Token(string key)
        {
            int? id = f.TryGetCount(key);
            if (id is null) return null;
            if (id >= tokens.Length) throw Bad(key, $"= {id} is outside the {tokens.Length} tokens");
            if ((GgufTokenType)types[id.Value] == GgufTokenType.Unused) throw Bad(key, $"= {id} is an unused (padding) token");
            return tokens[id.Value];
        }
        string? template = f.Metadata.ContainsKey("tokenizer.chat_template") ? f.GetString("tokenizer.chat_template") : null;
        bool clean = !f.Metadata.TryGetValue("tokenizer.ggml.clean_spaces", out object? cs)
            || (cs as bool? ?? throw Bad("tokenizer.ggml.clean_spaces", $"must be a bool, found {cs.GetType().Name}"));
        var config = new TokenizerConfig
        {
            Path = path,
            ChatTemplate = template,
            BosToken = Token("tokenizer.ggml.bos_token_id"),
            EosToken = Token("tokenizer.ggml.eos_token_id"),
            PadToken = Token("tokenizer.ggml.padding_token_id"),
            UnkToken = Token("tokenizer.ggml.unknown_token_id"),
            CleanUpTokenizationSpaces = clean,
        };
        options ??= new TokenizerOptions();
        // The mask may be a row past the tokenizer's last token (a model's config.json can name one), so only its range is checked.
        if (options.ModelMaskId is null && f.TryGetCount("tokenizer.ggml.mask_token_id") is int mask)
            options = options with { ModelMaskId = mask < tokens.Length ? mask : throw Bad("tokenizer.ggml.mask_token_id", $"= {mask} is outside the {tokens.Length} tokens") };
        return HfBpeTokenizer.Create(data, path, config, options, template is null ? null : (template, path + " tokenizer.chat_template"));
    }

    // An array of strings, or null when the key is absent.
    private static string[]? Strings(GgufFile f, string key)
    {
        if (!f.Metadata.TryGetValue(key, out object? v)) return null;
        if (v is not object[] items || items.Any(x => x is not string))
            throw new InvalidDataException($"{f.Path}: metadata '{key}' must be an array of strings");
        return [.. items.Cast<string>()];
    }

    // An array of integers of any width that fit an int, or null when the key is absent.
    private static int[]? Ints(GgufFile f, string key)
    {
        if (!f.Metadata.TryGetValue(key, out object? v)) return null;
        if (v is not object[] items) throw new InvalidDataException($"{f.Path}: metadata '{key}' must be an array of integers");
        var r = new int[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            long? n = items[i] switch { int x => x, uint x => x, short x => x, ushort x => x, sbyte x => x, byte x => x, long x => x, _ => null };
            if (n is null || n < int.MinValue || n > int.MaxValue)
                throw new InvalidDataException($"{f.Path}: metadata '{key}' must be an array of integers (entry {i} is {items[i].GetType().Name})");
            r[i] = (int)n;
        }
        return r;
    }
}
