using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dllm.IO;

/// <summary>
/// A LLaDA <c>config.json</c>, with the field names the Python reference code
/// (<c>configuration_llada.py</c>) reads and writes.
/// </summary>
/// <remarks>
/// <para>Required when loading: <c>d_model</c>, <c>n_heads</c>, <c>n_layers</c>, <c>vocab_size</c>.
/// <c>mlp_hidden_size</c> falls back to <c>mlp_ratio · d_model</c> as in Python. Every other missing
/// field takes the C# default below, which is LLaDA-8B's value. Those defaults deliberately differ
/// from the Python <c>ModelConfig</c> defaults for some fields (Python defaults <c>rope</c> false,
/// <c>include_bias</c> true, <c>weight_tying</c> true): real LLaDA configs spell every field out, and
/// <see cref="ToJson"/> always writes every field, so a file we write means the same to both.</para>
/// <para>Fields we do not model (alibi, init_std, auto_map, ...) are kept in <see cref="Extra"/> and
/// written back unchanged by <see cref="ToJson"/>.</para>
/// <para>Record equality compares <see cref="Architectures"/> and <see cref="Extra"/> by reference.</para>
/// </remarks>
public sealed record LladaConfig
{
    /// <summary>The architecture name this engine implements.</summary>
    public const string SupportedArchitecture = "LLaDAModelLM";
    /// <summary>The model_type this engine implements.</summary>
    public const string SupportedModelType = "llada";

    [JsonPropertyName("architectures")] public string[]? Architectures { get; init; } = [SupportedArchitecture];
    [JsonPropertyName("model_type")] public string? ModelType { get; init; } = SupportedModelType;
    [JsonPropertyName("block_type")] public string BlockType { get; init; } = "llama";

    [JsonPropertyName("d_model"), JsonRequired] public int DModel { get; init; }
    [JsonPropertyName("n_heads"), JsonRequired] public int NHeads { get; init; }
    /// <summary>Key/value heads (grouped-query attention when below n_heads); null means n_heads. See <see cref="KvHeads"/>.</summary>
    [JsonPropertyName("n_kv_heads")] public int? NKvHeads { get; init; }
    [JsonPropertyName("n_layers"), JsonRequired] public int NLayers { get; init; }
    /// <summary>Width of ff_proj/up_proj (12288 for LLaDA-8B). 0 on load means "absent": mlp_ratio·d_model is used.</summary>
    [JsonPropertyName("mlp_hidden_size")] public int MlpHiddenSize { get; init; }
    /// <summary>Only used when mlp_hidden_size is absent (Python default 4).</summary>
    [JsonPropertyName("mlp_ratio")] public int MlpRatio { get; init; } = 4;
    [JsonPropertyName("vocab_size"), JsonRequired] public int VocabSize { get; init; }
    /// <summary>Rows of wte / the LM head, at least vocab_size (padded); null means vocab_size. See <see cref="EmbeddingRows"/>.</summary>
    [JsonPropertyName("embedding_size")] public int? EmbeddingSize { get; init; }
    [JsonPropertyName("max_sequence_length")] public int MaxSequenceLength { get; init; } = 4096;

    [JsonPropertyName("rope")] public bool Rope { get; init; } = true;
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 500000.0;
    [JsonPropertyName("activation_type")] public string ActivationType { get; init; } = "silu";
    [JsonPropertyName("layer_norm_type")] public string LayerNormType { get; init; } = "rms";
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-5;

    [JsonPropertyName("include_bias")] public bool IncludeBias { get; init; }
    [JsonPropertyName("include_qkv_bias")] public bool IncludeQkvBias { get; init; }
    /// <summary>When true there is no model.transformer.ff_out.weight: wte is the LM head.</summary>
    [JsonPropertyName("weight_tying")] public bool WeightTying { get; init; }
    [JsonPropertyName("scale_logits")] public bool ScaleLogits { get; init; }
    [JsonPropertyName("input_emb_norm")] public bool InputEmbNorm { get; init; }

    [JsonPropertyName("eos_token_id")] public int EosTokenId { get; init; } = 126081;
    [JsonPropertyName("pad_token_id")] public int PadTokenId { get; init; } = 126081;
    [JsonPropertyName("mask_token_id")] public int MaskTokenId { get; init; } = 126336;

    /// <summary>Every config.json field not modelled above, kept so a re-written config loses nothing.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; init; }

    /// <summary>The file this config was loaded from (used in error messages); null when built in code.</summary>
    [JsonIgnore] public string? SourcePath { get; init; }

    /// <summary>d_model / n_heads.</summary>
    [JsonIgnore] public int HeadDim => DModel / NHeads;
    /// <summary>n_kv_heads, or n_heads when absent.</summary>
    [JsonIgnore] public int KvHeads => NKvHeads ?? NHeads;
    /// <summary>embedding_size, or vocab_size when absent.</summary>
    [JsonIgnore] public int EmbeddingRows => EmbeddingSize ?? VocabSize;

    private static readonly JsonSerializerOptions ReadOptions = new() { AllowTrailingCommas = false };

    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Reads <paramref name="configJsonPath"/> and, unless told otherwise, <see cref="Validate"/>s it.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Invalid JSON, a wrongly typed or missing required field, or a
    /// failed validation; the message names the file (and the JSON path for JSON problems).</exception>
    public static LladaConfig Load(string configJsonPath, bool validate = true)
    {
        string path = Path.GetFullPath(configJsonPath);
        if (!File.Exists(path)) throw new FileNotFoundException($"config not found: {path}", path);
        LladaConfig? c;
        try
        {
            c = JsonSerializer.Deserialize<LladaConfig>(File.ReadAllBytes(path), ReadOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid config JSON: {e.Message}", e);
        }
        if (c is null) throw new InvalidDataException($"{path}: config JSON is null");
        c = c with { SourcePath = path };
        if (c.MlpHiddenSize == 0) c = c with { MlpHiddenSize = checked(c.MlpRatio * c.DModel) };
        if (validate) c.Validate();
        return c;
    }

    /// <summary>
    /// The config as indented JSON with the Python field names. n_kv_heads and embedding_size are
    /// written with their effective values (the Python defaults for absent ones are not ours).
    /// </summary>
    public string ToJson()
    {
        LladaConfig explicitValues = this with { NKvHeads = KvHeads, EmbeddingSize = EmbeddingRows };
        return JsonSerializer.Serialize(explicitValues, WriteOptions);
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> atomically (tmp file, then rename).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    /// <summary>
    /// Checks that this engine can run the model the config describes.
    /// </summary>
    /// <exception cref="InvalidDataException">Names the offending field and value: an architecture other than
    /// LLaDAModelLM, a model_type other than llada, a block_type other than llama, non-positive sizes,
    /// d_model not divisible by n_heads, n_heads not divisible by n_kv_heads, an odd head dim (RoPE
    /// rotates pairs), activation other than silu/swiglu, layer norm other than rms, include_bias,
    /// rope disabled, embedding_size below vocab_size, or special token ids outside the embedding.</exception>
    public void Validate()
    {
        string where = SourcePath ?? "config.json";
        InvalidDataException Bad(string msg) => new($"{msg} in {where}");

        if (Architectures is null || Architectures.Length == 0)
            throw Bad($"no architectures listed (Dllm supports {SupportedArchitecture})");
        if (!Architectures.Contains(SupportedArchitecture))
            throw new InvalidDataException($"unsupported architecture '{string.Join("', '", Architectures)}' in {where}: Dllm supports {SupportedArchitecture}");
        if (ModelType != SupportedModelType)
            throw new InvalidDataException($"unsupported model_type '{ModelType}' in {where}: Dllm supports {SupportedModelType}");
        if (BlockType != "llama")
            throw new InvalidDataException($"unsupported block_type '{BlockType}' in {where}: Dllm supports llama (separate q/k/v/ff/up projections)");

        Positive("d_model", DModel);
        Positive("n_heads", NHeads);
        if (NKvHeads is int kv) Positive("n_kv_heads", kv);
        Positive("n_layers", NLayers);
        Positive("mlp_hidden_size", MlpHiddenSize);
        Positive("vocab_size", VocabSize);
        if (EmbeddingSize is int es) Positive("embedding_size", es);
        Positive("max_sequence_length", MaxSequenceLength);

        if (DModel % NHeads != 0)
            throw Bad($"d_model {DModel} is not divisible by n_heads {NHeads}");
        if (NHeads % KvHeads != 0)
            throw Bad($"n_heads {NHeads} is not divisible by n_kv_heads {KvHeads}");
        if (HeadDim % 2 != 0)
            throw Bad($"head dim {HeadDim} (d_model {DModel} / n_heads {NHeads}) is odd; RoPE needs an even head dim");
        if (EmbeddingRows < VocabSize)
            throw Bad($"embedding_size {EmbeddingRows} is smaller than vocab_size {VocabSize}");

        if (!Rope)
            throw Bad("rope false is unsupported (Dllm implements rotary position embeddings only)");
        if (!(RopeTheta > 0)) throw Bad($"rope_theta must be positive, found {RopeTheta}");
        if (!(RmsNormEps > 0)) throw Bad($"rms_norm_eps must be positive, found {RmsNormEps}");
        if (ActivationType is not ("silu" or "swiglu"))
            throw Bad($"unsupported activation_type '{ActivationType}' (Dllm supports silu, swiglu)");
        if (LayerNormType != "rms")
            throw Bad($"unsupported layer_norm_type '{LayerNormType}' (Dllm supports rms)");
        if (IncludeBias)
            throw Bad("include_bias true is unsupported (Dllm's linear layers have no bias)");

        TokenId("mask_token_id", MaskTokenId);
        TokenId("eos_token_id", EosTokenId);
        TokenId("pad_token_id", PadTokenId);

        void Positive(string field, int value)
        {
            if (value <= 0) throw Bad($"{field} must be positive, found {value}");
        }

        void TokenId(string field, int id)
        {
            if (id < 0 || id >= EmbeddingRows)
                throw Bad($"{field} {id} is outside the embedding table (0..{EmbeddingRows - 1})");
        }
    }
}
