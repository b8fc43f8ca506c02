using System.Text.Json;

namespace Dllm.Text;

/// <summary>
/// The pre-tokenizers a GGUF names in <c>tokenizer.ggml.pre</c> that Dllm implements, each written as the Hugging Face
/// <c>normalizer</c> / <c>pre_tokenizer</c> JSON it stands for, so that <see cref="PreTokenizerSpec"/> builds the same
/// splitter for a GGUF as for the tokenizer.json the GGUF was converted from.
/// </summary>
/// <remarks>
/// <para>A GGUF carries only a name: llama.cpp hard-codes one splitting behaviour per name. The entries:
/// <c>llama-bpe</c> (aliases <c>llama3</c>, <c>llama-v3</c>; Llama-3 and LLaDA-8B: digits in runs of up to three, merges
/// ignored when a whole piece is a token), <c>qwen2</c> (Qwen2/2.5/3, Dream, SDAR: single digits, NFC as the Hugging Face
/// file asks), <c>gpt-2</c> (GPT-2's ByteLevel regex) and <c>default</c> (what llama.cpp applies to a BPE with no or an
/// unknown-to-it name: four regexes in sequence). Any other name is refused by the reader.</para>
/// <para>Writing goes the other way (<see cref="NameOf"/>): a tokenizer.json whose splitter is textually one of these
/// gets its name; one that is not gets none, and the exporter keeps its placeholder vocabulary rather than writing a
/// name under which llama.cpp would split text differently.</para>
/// </remarks>
internal static class GgufPreTokenizers
{
    private const string Llama3Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    // llama.cpp's fallback for a BPE: punctuation runs, then GPT-2's regex (without its trailing \s+), then digit runs and triples.
    private static readonly string[] DefaultRegexes =
        [@"[\p{P}\$\+<=>\^~\|]+", @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)", @"\p{N}+", "[0-9][0-9][0-9]"];

    /// <summary>One name: its normalizer JSON (or null), its pre_tokenizer JSON and whether BPE skips merges for a piece
    /// that is already a token (tokenizer.json's <c>ignore_merges</c>).</summary>
    private sealed record Entry(string Name, string? Normalizer, string PreTokenizer, bool IgnoreMerges);

    private static readonly Entry[] Entries =
    [
        new("llama-bpe", null, SplitsThenBytes(Llama3Regex), IgnoreMerges: true),
        new("qwen2", """{"type": "NFC"}""", SplitsThenBytes(Qwen2Regex), IgnoreMerges: false),
        new("gpt-2", null, """{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}""", IgnoreMerges: false),
        new("default", null, SplitsThenBytes(DefaultRegexes), IgnoreMerges: false),
    ];

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        ["llama3"] = "llama-bpe", ["llama-v3"] = "llama-bpe",
    };

    /// <summary>The names the reader accepts, for messages.</summary>
    public static IEnumerable<string> Known => Entries.Select(e => e.Name).Concat(Aliases.Keys);

    /// <summary>The splitter and <c>ignore_merges</c> flag of <paramref name="name"/>, or null when Dllm does not know the name.</summary>
    public static (PreTokenizerSpec Spec, bool IgnoreMerges)? Find(string name)
    {
        string canonical = Aliases.GetValueOrDefault(name, name);
        Entry? e = Entries.FirstOrDefault(x => x.Name == canonical);
        return e is null ? null : (Build(e), e.IgnoreMerges);
    }

    /// <summary>The name under which llama.cpp splits text as <paramref name="spec"/> does, or null when none does.</summary>
    /// <remarks><c>default</c> is never chosen: no Hugging Face file describes it, and llama.cpp warns on loading it.</remarks>
    public static string? NameOf(PreTokenizerSpec spec, bool ignoreMerges)
        => Entries.Where(e => e.Name != "default" && e.IgnoreMerges == ignoreMerges)
                  .FirstOrDefault(e => Build(e).SameAs(spec))?.Name;

    private static PreTokenizerSpec Build(Entry e)
    {
        using JsonDocument pre = JsonDocument.Parse(e.PreTokenizer);
        using JsonDocument? norm = e.Normalizer is null ? null : JsonDocument.Parse(e.Normalizer);
        PreTokenizerSpec spec = PreTokenizerSpec.Parse(norm?.RootElement, pre.RootElement);
        spec.MarkByteLevel();
        return spec;
    }

    // The Llama-3/Qwen2 layout: Split(regex, Isolated) for each regex, then ByteLevel without its own regex or prefix space.
    private static string SplitsThenBytes(params string[] regexes)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            foreach (string r in regexes)
            {
                w.WriteStartObject();
                w.WriteString("type", "Split");
                w.WriteStartObject("pattern");
                w.WriteString("Regex", r);
                w.WriteEndObject();
                w.WriteString("behavior", "Isolated");
                w.WriteBoolean("invert", false);
                w.WriteEndObject();
            }
            w.WriteStartObject();
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", false);
            w.WriteBoolean("use_regex", false);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
