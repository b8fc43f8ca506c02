using System.Text.Json;
using System.Text.Json.Serialization;

using Dllm.IO;

namespace Dllm.Model;

/// <summary>
/// A Dream (HKUNLP Dream-v0, <c>"architectures": ["DreamModel"]</c>) <c>config.json</c>: the Qwen2
/// layout (q/k/v biases, Hugging Face Llama-style names) trained as a masked diffusion model
/// initialised from an autoregressive one, so its logits at position i predict token i+1.
/// The block is the same pre-norm block LLaDA uses, so <see cref="ToModelConfig"/> describes it as a
/// <see cref="ModelConfig"/> of the Dream family (q/k/v biases, shifted logits) for the one transformer.
/// </summary>
public sealed record DreamConfig
{
    public const string Architecture = "DreamModel";

    [JsonPropertyName("architectures")] public string[]? Architectures { get; init; }
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "Dream";
    [JsonPropertyName("hidden_size"), JsonRequired] public int HiddenSize { get; init; }
    [JsonPropertyName("intermediate_size"), JsonRequired] public int IntermediateSize { get; init; }
    [JsonPropertyName("num_attention_heads"), JsonRequired] public int NumAttentionHeads { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; init; }
    [JsonPropertyName("num_hidden_layers"), JsonRequired] public int NumHiddenLayers { get; init; }
    [JsonPropertyName("vocab_size"), JsonRequired] public int VocabSize { get; init; }
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 131072;
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 1_000_000;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    [JsonPropertyName("mask_token_id")] public int MaskTokenId { get; init; } = 151666;
    [JsonPropertyName("eos_token_id")] public int EosTokenId { get; init; } = 151643;
    [JsonPropertyName("pad_token_id")] public int PadTokenId { get; init; } = 151643;

    /// <summary>True when <paramref name="configJsonPath"/> names DreamModel among its architectures.</summary>
    public static bool IsDream(string configJsonPath)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(configJsonPath));
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("architectures", out JsonElement a) && a.ValueKind == JsonValueKind.Array
                && a.EnumerateArray().Any(x => x.ValueKind == JsonValueKind.String && x.GetString() == Architecture);
        }
        catch (Exception e) when (JsonErrors.IsContentError(e)) { return false; } // ModelConfig.Load reports the JSON error with its path
    }

    /// <exception cref="InvalidDataException">Invalid JSON or a missing required field, naming the file.</exception>
    public static DreamConfig Load(string configJsonPath)
    {
        string path = Path.GetFullPath(configJsonPath);
        try
        {
            return JsonSerializer.Deserialize<DreamConfig>(File.ReadAllBytes(path))
                ?? throw new InvalidDataException($"{path}: config JSON is null");
        }
        catch (Exception e) when (JsonErrors.IsContentError(e)) { throw new InvalidDataException($"{path}: invalid Dream config JSON: {JsonErrors.OneLine(e.Message)}", e); }
    }

    /// <summary>The same model as a <see cref="ModelConfig"/> of the Dream family (not yet validated).</summary>
    /// <exception cref="InvalidDataException">An unsupported activation.</exception>
    public ModelConfig ToModelConfig(string? sourcePath = null)
    {
        if (HiddenAct is not ("silu" or "swiglu"))
            throw new InvalidDataException($"unsupported hidden_act '{HiddenAct}' in {sourcePath ?? "config.json"}: Dllm supports silu");
        return new ModelConfig
        {
            Family = ModelFamily.Dream, Architectures = Architectures ?? [Architecture], ModelType = ModelType,
            DModel = HiddenSize, NHeads = NumAttentionHeads, NKvHeads = NumKeyValueHeads ?? NumAttentionHeads,
            NLayers = NumHiddenLayers, MlpHiddenSize = IntermediateSize, VocabSize = VocabSize, EmbeddingSize = VocabSize,
            MaxSequenceLength = MaxPositionEmbeddings, RopeTheta = RopeTheta, RmsNormEps = RmsNormEps,
            IncludeQkvBias = true, WeightTying = TieWordEmbeddings, Rope = true,
            EosTokenId = EosTokenId, PadTokenId = PadTokenId, MaskTokenId = MaskTokenId, SourcePath = sourcePath,
        };
    }

    /// <summary>The Dream config.json of a Dream-family <see cref="ModelConfig"/> (what <see cref="ToModelConfig"/> reads back).</summary>
    /// <exception cref="ArgumentException">The config is not of the Dream family, or its embedding is padded past vocab_size (Dream has no such field).</exception>
    public static DreamConfig FromModelConfig(ModelConfig c)
    {
        if (c.Family != ModelFamily.Dream) throw new ArgumentException($"a {c.Family} config has no Dream dialect");
        if (c.EmbeddingRows != c.VocabSize) throw new ArgumentException($"Dream configs have no embedding_size; {c.EmbeddingRows} rows differ from vocab_size {c.VocabSize}");
        return new DreamConfig
        {
            Architectures = [Architecture], HiddenSize = c.DModel, IntermediateSize = c.MlpHiddenSize,
            NumAttentionHeads = c.NHeads, NumKeyValueHeads = c.KvHeads, NumHiddenLayers = c.NLayers, VocabSize = c.VocabSize,
            MaxPositionEmbeddings = c.MaxSequenceLength, RopeTheta = c.RopeTheta, RmsNormEps = c.RmsNormEps,
            TieWordEmbeddings = c.WeightTying, MaskTokenId = c.MaskTokenId, EosTokenId = c.EosTokenId, PadTokenId = c.PadTokenId,
        };
    }

    /// <summary>Indented JSON with Dream's (Qwen2's) field names.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
}
