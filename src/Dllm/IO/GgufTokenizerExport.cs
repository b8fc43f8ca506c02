using Dllm.Model;
using Dllm.Text;

namespace Dllm.IO;

/// <summary>
/// Writes a checkpoint's tokenizer into a GGUF's <c>tokenizer.ggml.*</c> metadata, as llama.cpp's converter lays it
/// out, so llama.cpp, Ollama and LM Studio (and <see cref="GgufTokenizer"/>) can take text.
/// </summary>
/// <remarks>
/// <para>Written when the checkpoint directory has a Hugging Face byte-level BPE tokenizer.json whose pre-tokenizer
/// llama.cpp knows by name (<see cref="GgufPreTokenizers"/>: Llama-3/LLaDA-8B → <c>llama-bpe</c>, Qwen2/2.5/3, Dream →
/// <c>qwen2</c>, GPT-2 → <c>gpt-2</c>) and whose ids fit the embedding: <c>model = "gpt2"</c>; <c>tokens</c> in id
/// order (vocabulary entries in their byte-level spelling, added tokens as their raw text, every id the tokenizer
/// leaves empty below the embedding size as <c>[PADn]</c>); <c>token_type</c> (normal 1, control 3 for added tokens marked
/// special or spelled <c>&lt;|...|&gt;</c>, user-defined 4 for other added tokens, unused 5 for the padding);
/// <c>merges</c> as "a b"; the bos/eos/padding/unknown/mask ids the Dllm tokenizer resolves; <c>clean_spaces</c>
/// from tokenizer_config.json (false when absent); and <c>tokenizer.chat_template</c> (chat_template.jinja, else
/// tokenizer_config.json's default template).</para>
/// <para>Dllm's byte tokenizer (the bundled small models) is written faithfully as a byte-level BPE without merges:
/// token b (0..255) is byte b in the GPT-2 byte alphabet, so every text splits into its UTF-8 bytes with ids equal to
/// the byte values whatever the pre-tokenizer (<c>gpt-2</c> is named); ids 256.. are its special tokens (control).</para>
/// <para>Otherwise a placeholder of the embedding's size is written (tokens <c>t0</c>..<c>tN</c>, all normal, no
/// merges, the config's special ids): no tokenizer.json; a WordLevel tokenizer (no GGUF tokenizer model looks whole
/// words up without BPE); a pre-tokenizer llama.cpp has no name for; more token ids than embedding rows; or two ids
/// with one spelling. That file takes token ids, not text, and <see cref="GgufTokenizer"/> refuses it by name.</para>
/// </remarks>
internal static class GgufTokenizerExport
{
    /// <summary>Adds the tokenizer metadata of <paramref name="checkpointDirectory"/> (or the placeholder) to <paramref name="g"/>.</summary>
    /// <returns>One line saying what was written, e.g. "tokenizer gpt2/llama-bpe, 128256 tokens, chat template" or
    /// "placeholder vocabulary t0..t96 (no tokenizer.json): the file takes token ids, not text".</returns>
    /// <remarks>A tokenizer that <see cref="TokenizerLoader.Load"/> refuses (malformed, unsupported, no mask) gets the
    /// placeholder too; the returned line carries the loader's message.</remarks>
    public static string Add(GgufWriter g, ModelConfig c, string checkpointDirectory)
    {
        string? why = TryAddReal(g, c, checkpointDirectory, out string written);
        if (why is null) return written;
        AddPlaceholder(g, c);
        return $"placeholder vocabulary t0..t{c.EmbeddingRows - 1} ({why}): the file takes token ids, not text";
    }

    // Writes the real tokenizer and returns null, or writes nothing and returns why not.
    private static string? TryAddReal(GgufWriter g, ModelConfig c, string dir, out string written)
    {
        written = "";
        string jsonPath = Path.Combine(dir, "tokenizer.json");
        if (!File.Exists(jsonPath)) return "no tokenizer.json";
        ITokenizer tok;
        // A tokenizer Dllm cannot load (no mask it can find, a kind it does not implement, a template that does not parse)
        // must not stop the weights from being exported; the returned line says why the placeholder was written.
        try { tok = TokenizerLoader.Load(dir); }
        catch (Exception e) when (e is NotSupportedException or InvalidDataException or Text.Jinja.TemplateException)
        {
            return "the tokenizer does not load: " + e.Message.Split('\n')[0];
        }
        TokenizerJsonData data;
        TokenizerConfig? config = null;
        string? pre;
        switch (tok)
        {
            case HfBpeTokenizer hf:
                data = TokenizerJsonData.Read(jsonPath);
                config = hf.Config;
                pre = GgufPreTokenizers.NameOf(data.PreTokenizer, data.IgnoreMerges);
                if (pre is null) return "its pre-tokenizer is not one llama.cpp knows by name (llama-bpe, qwen2, gpt-2)";
                break;
            case ByteTokenizer bytes:
                (data, pre) = (ByteTokenizerData(bytes), "gpt-2");
                break;
            default:
                return $"a {tok.GetType().Name} has no GGUF form";
        }

        int rows = c.EmbeddingRows;
        int maxId = Math.Max(data.Vocab.Values.DefaultIfEmpty(-1).Max(), data.AddedTokens.Select(t => t.Id).DefaultIfEmpty(-1).Max());
        if (maxId >= rows) return $"the tokenizer has ids up to {maxId}, past the embedding's {rows} rows";

        var tokens = new string?[rows];
        var types = new int[rows];
        foreach (var (text, id) in data.Vocab)
            if (id >= 0) { tokens[id] = text; types[id] = (int)GgufTokenType.Normal; }
        foreach (AddedTokenEntry t in data.AddedTokens) // an added token wins over a vocabulary entry of the same id
        {
            if (t.Id < 0) continue;
            tokens[t.Id] = t.Content;
            types[t.Id] = (int)(t.Special || LooksSpecial(t.Content) ? GgufTokenType.Control : GgufTokenType.UserDefined);
        }
        for (int id = 0; id < rows; id++)
            if (tokens[id] is null) { tokens[id] = $"[PAD{id}]"; types[id] = (int)GgufTokenType.Unused; }
        // llama.cpp looks tokens up by text: two ids with one spelling would make one unreachable.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string? t in tokens) if (!seen.Add(t!)) return $"two ids share the spelling \"{t}\"";

        string jinja = Path.Combine(dir, "chat_template.jinja");
        string? template = File.Exists(jinja) ? File.ReadAllText(jinja) : config?.ChatTemplate;
        int? Named(string? token) => token is null ? null : tok.TokenToId(token);

        g.AddString("tokenizer.ggml.model", "gpt2")
         .AddString("tokenizer.ggml.pre", pre)
         .AddStringArray("tokenizer.ggml.tokens", tokens!)
         .AddInt32Array("tokenizer.ggml.token_type", types)
         .AddStringArray("tokenizer.ggml.merges", [.. data.Merges.Select(m => m.Left + " " + m.Right)]);
        if (tok.BosId is int bos) g.AddUInt32("tokenizer.ggml.bos_token_id", (uint)bos);
        g.AddUInt32("tokenizer.ggml.eos_token_id", (uint)tok.EosId);
        if ((Named(config?.PadToken) ?? NoneIfUnset(c.PadTokenId)) is int pad) g.AddUInt32("tokenizer.ggml.padding_token_id", (uint)pad);
        if (Named(config?.UnkToken) is int unk) g.AddUInt32("tokenizer.ggml.unknown_token_id", (uint)unk);
        g.AddUInt32("tokenizer.ggml.mask_token_id", (uint)tok.MaskId);
        if (config?.AddBosToken is bool addBos) g.AddBool("tokenizer.ggml.add_bos_token", addBos);
        g.AddBool("tokenizer.ggml.clean_spaces", config?.CleanUpTokenizationSpaces ?? false);
        if (template is not null) g.AddString("tokenizer.chat_template", template);
        written = $"tokenizer written (gpt2, pre-tokenizer {pre}, {rows - types.Count(t => t == (int)GgufTokenType.Unused)} of {rows} ids{(template is null ? "" : ", chat template")})";
        return null;
    }

    private static int? NoneIfUnset(int id) => id == ModelConfig.NoToken ? null : id;

    // What llama.cpp's converter also treats as control although the file does not mark it special: <|...|> spellings
    // (and DeepSeek's full-width <｜...｜>), so that a GGUF from here and one from the converter agree.
    private static bool LooksSpecial(string t)
        => (t.StartsWith("<|", StringComparison.Ordinal) && t.EndsWith("|>", StringComparison.Ordinal) && t.Length >= 4)
           || (t.StartsWith("<｜", StringComparison.Ordinal) && t.EndsWith("｜>", StringComparison.Ordinal) && t.Length >= 4);

    // Dllm's byte tokenizer as a byte-level BPE without merges: byte b is the one-character token that the GPT-2 byte map
    // spells it with, so any pre-tokenizer splits text into single bytes that map to ids 0..255, exactly as ByteTokenizer
    // does; its special tokens are added tokens (control).
    private static TokenizerJsonData ByteTokenizerData(ByteTokenizer t)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int b = 0; b < 256; b++) vocab[ByteLevelMap.ByteToChar[b].ToString()] = b;
        return new TokenizerJsonData
        {
            Vocab = vocab,
            Merges = [],
            AddedTokens = [.. Enumerable.Range(256, t.VocabSize - 256).Select(id => new AddedTokenEntry(t.IdToToken(id)!, id, Special: true))],
            PreTokenizer = GgufPreTokenizers.Find("gpt-2")!.Value.Spec,
            IgnoreMerges = false,
        };
    }

    /// <summary>A vocabulary of the embedding's size with no text behind it: tokens t0..tN, all normal, no merges, the config's special ids.</summary>
    private static void AddPlaceholder(GgufWriter g, ModelConfig c)
    {
        int vocab = c.EmbeddingRows;
        g.AddString("tokenizer.ggml.model", "gpt2")
         .AddStringArray("tokenizer.ggml.tokens", [.. Enumerable.Range(0, vocab).Select(i => "t" + i)])
         .AddInt32Array("tokenizer.ggml.token_type", [.. Enumerable.Repeat(1, vocab)])
         .AddStringArray("tokenizer.ggml.merges", []);
        if (c.BosTokenId is int bos) g.AddUInt32("tokenizer.ggml.bos_token_id", (uint)bos);
        if (c.EosTokenId != ModelConfig.NoToken) g.AddUInt32("tokenizer.ggml.eos_token_id", (uint)c.EosTokenId);
        if (c.PadTokenId != ModelConfig.NoToken) g.AddUInt32("tokenizer.ggml.padding_token_id", (uint)c.PadTokenId);
        if (c.MaskTokenId != ModelConfig.NoToken) g.AddUInt32("tokenizer.ggml.mask_token_id", (uint)c.MaskTokenId);
    }
}
