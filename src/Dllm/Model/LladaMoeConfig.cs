using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dllm.IO;

namespace Dllm.Model;

/// <summary>
/// A LLaDA-MoE <c>config.json</c> (inclusionAI/LLaDA-MoE-7B-A1B-Base and -Instruct:
/// <c>"architectures": ["LLaDAMoEModelLM"]</c>, <c>"model_type": "llada"</c>, read by the
/// <c>LLaDAConfig</c> of the <c>configuration_lladamoe.py</c> shipped with them; ZHZisZZ/dllm renames the
/// model_type to "lladamoe", also accepted). Field names are those of that config class; the block is
/// the pre-norm Llama block with OLMoE-style (Hugging Face Llama) tensor names, bidirectional attention
/// (masked diffusion, no logit shift) and a <see cref="MixtureOfExperts"/> FFN on the layers whose
/// <c>moe_layer_freq</c> entry is not 0. <see cref="ToModelConfig"/> describes it as a
/// <see cref="ModelConfig"/> of the <see cref="ModelFamily.LladaMoe"/> family with a <see cref="MoeConfig"/>.
/// </summary>
/// <remarks>
/// <para>Dllm's own <c>model_kind</c>, <c>attention</c> and <c>block_size</c> are written only for a model
/// that is not masked diffusion (a trainer's AR baseline), so a masked diffusion config reads like a published one.</para>
/// <para>Fields the published forward does not use (norm_topk_prob — the block hard-codes False —,
/// moe_router_score_function, routed_scaling_factor, router_num_group, router_topk_group, attention
/// dropout, initializer_range, ...) are kept and written back unchanged. Fields this engine cannot run
/// are refused by <see cref="ToModelConfig"/> with the field's name: qk_layernorm true (per-head q/k
/// RMSNorm, as the published 7B has; it belongs to the attention, which does not have it yet),
/// attention_bias, clip_qkv, rope_scaling, a partial_rotary_factor other than 1, hidden_act other than silu.</para>
/// </remarks>
public sealed record LladaMoeConfig
{
    public const string Architecture = "LLaDAMoEModelLM";
    /// <summary>The mask token of LLaDA-MoE's tokenizer (<c>&lt;|mask|&gt;</c>); the published config.json has no field for it.</summary>
    public const int DefaultMaskTokenId = 156895;

    [JsonPropertyName("architectures")] public string[]? Architectures { get; init; }
    [JsonPropertyName("model_type")] public string? ModelType { get; init; } = "llada";
    [JsonPropertyName("vocab_size"), JsonRequired] public int VocabSize { get; init; }
    [JsonPropertyName("hidden_size"), JsonRequired] public int HiddenSize { get; init; }
    /// <summary>Width of the dense layers' FFN; -1 (the config class default) when every layer is MoE.</summary>
    [JsonPropertyName("dense_intermediate_size")] public int DenseIntermediateSize { get; init; } = -1;
    [JsonPropertyName("expert_intermediate_size"), JsonRequired] public int ExpertIntermediateSize { get; init; }
    /// <summary>Null: no shared expert.</summary>
    [JsonPropertyName("shared_expert_intermediate_size")] public int? SharedExpertIntermediateSize { get; init; }
    [JsonPropertyName("num_hidden_layers"), JsonRequired] public int NumHiddenLayers { get; init; }
    [JsonPropertyName("num_attention_heads"), JsonRequired] public int NumAttentionHeads { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; init; }
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 4096;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-5;
    [JsonPropertyName("pad_token_id")] public int PadTokenId { get; init; } = 1;
    [JsonPropertyName("eos_token_id")] public int EosTokenId { get; init; } = 50279;
    /// <summary>Not a field of the published config class; read when present, else <see cref="DefaultMaskTokenId"/>.</summary>
    [JsonPropertyName("mask_token_id")] public int? MaskTokenId { get; init; }
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }
    [JsonPropertyName("rope_theta"), JsonRequired] public double RopeTheta { get; init; }
    [JsonPropertyName("partial_rotary_factor")] public double? PartialRotaryFactor { get; init; }
    [JsonPropertyName("rope_scaling")] public JsonElement? RopeScaling { get; init; }
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }
    [JsonPropertyName("clip_qkv")] public double? ClipQkv { get; init; }
    [JsonPropertyName("qk_layernorm")] public bool? QkLayernorm { get; init; }
    [JsonPropertyName("num_experts"), JsonRequired] public int NumExperts { get; init; }
    [JsonPropertyName("num_experts_per_tok"), JsonRequired] public int NumExpertsPerTok { get; init; }
    [JsonPropertyName("router_aux_loss_coef")] public double RouterAuxLossCoef { get; init; } = 0.01;
    [JsonPropertyName("moe_layer_freq"), JsonRequired] public int[] MoeLayerFreq { get; init; } = [];
    [JsonPropertyName("moe_router_enable_expert_bias")] public bool? MoeRouterEnableExpertBias { get; init; }

    [JsonPropertyName("model_kind"), JsonConverter(typeof(JsonStringEnumConverter<ModelKind>)), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ModelKind? Kind { get; init; }
    [JsonPropertyName("attention"), JsonConverter(typeof(JsonStringEnumConverter<AttentionKind>)), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AttentionKind? Attention { get; init; }
    [JsonPropertyName("block_size"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int BlockSize { get; init; }

    /// <summary>Every other field (norm_topk_prob, moe_router_score_function, torch_dtype, auto_map, ...), written back unchanged.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; init; }

    /// <exception cref="InvalidDataException">Invalid JSON or a missing required field, naming the file.</exception>
    public static LladaMoeConfig Load(string configJsonPath)
    {
        string path = Path.GetFullPath(configJsonPath);
        try
        {
            return JsonSerializer.Deserialize<LladaMoeConfig>(File.ReadAllBytes(path))
                ?? throw new InvalidDataException($"{path}: config JSON is null");
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid LLaDA-MoE config JSON: {JsonErrors.OneLine(e.Message)}", e); }
    }

    /// <summary>The same model as a <see cref="ModelConfig"/> of the LLaDA-MoE family (not yet validated).</summary>
    /// <exception cref="InvalidDataException">A field this engine cannot run (see the remarks), naming it and the file.</exception>
    public ModelConfig ToModelConfig(string? sourcePath = null)
    {
        string where = sourcePath ?? "config.json";
        InvalidDataException Bad(string msg) => new($"{msg} in {where}");
        if (HiddenAct is not ("silu" or "swiglu")) throw Bad($"unsupported hidden_act '{HiddenAct}' (Dllm supports silu)");
        if (AttentionBias) throw Bad("attention_bias true is unsupported (Dllm's LLaDA-MoE projections have no bias)");
        if (ClipQkv is not null) throw Bad($"clip_qkv {ClipQkv} is unsupported");
        if (RopeScaling is { ValueKind: not JsonValueKind.Null }) throw Bad("rope_scaling is unsupported (plain RoPE only)");
        if (PartialRotaryFactor is double prf && prf != 1.0) throw Bad($"partial_rotary_factor {prf} is unsupported (RoPE over the whole head only)");
        ModelKind kind = Kind ?? ModelKind.MaskedDiffusion;
        return new ModelConfig
        {
            Family = ModelFamily.LladaMoe, Architectures = Architectures ?? [Architecture], ModelType = ModelType,
            DModel = HiddenSize, NHeads = NumAttentionHeads, NKvHeads = NumKeyValueHeads ?? NumAttentionHeads, NLayers = NumHiddenLayers,
            MlpHiddenSize = DenseIntermediateSize, VocabSize = VocabSize, EmbeddingSize = VocabSize,
            MaxSequenceLength = MaxPositionEmbeddings, RopeTheta = RopeTheta, RmsNormEps = RmsNormEps,
            WeightTying = TieWordEmbeddings, Rope = true, QkNorm = QkLayernorm == true,
            EosTokenId = EosTokenId, PadTokenId = PadTokenId, MaskTokenId = MaskTokenId ?? DefaultMaskTokenId,
            Kind = kind, BlockSize = BlockSize,
            Attention = Attention ?? (kind switch { ModelKind.Autoregressive => AttentionKind.Causal, ModelKind.BlockDiffusion => AttentionKind.BlockCausal, _ => AttentionKind.Bidirectional }),
            Moe = new MoeConfig
            {
                Experts = NumExperts, TopK = NumExpertsPerTok, ExpertHidden = ExpertIntermediateSize,
                SharedExpertHidden = SharedExpertIntermediateSize ?? 0, LayerFreq = MoeLayerFreq,
                ExpertBias = MoeRouterEnableExpertBias == true, AuxLossCoef = RouterAuxLossCoef,
            },
            SourcePath = sourcePath, Extra = Extra,
        };
    }

    /// <summary>
    /// The LLaDA-MoE config.json of a LLaDA-MoE-family <see cref="ModelConfig"/> (what <see cref="ToModelConfig"/>
    /// reads back). The fields Dllm does not model come from <see cref="ModelConfig.Extra"/> (a config read from a
    /// file keeps them; a new one gets <c>norm_topk_prob: false</c>, the published semantics); the fields it refuses
    /// other values of are written with the values it runs (qk_layernorm false, partial_rotary_factor 1, no bias).
    /// </summary>
    /// <exception cref="ArgumentException">The config is not of the LLaDA-MoE family, has no <see cref="ModelConfig.Moe"/>,
    /// its embedding is padded past vocab_size (LLaDA-MoE has no such field), or its router is not LLaDA-MoE's softmax.</exception>
    public static LladaMoeConfig FromModelConfig(ModelConfig c)
    {
        if (c.Family != ModelFamily.LladaMoe || c.Moe is not MoeConfig m) throw new ArgumentException($"a {c.Family} config without experts has no LLaDA-MoE dialect");
        if (m.Router != RouterScoring.LladaMoeSoftmax) throw new ArgumentException($"the {m.Router} router has no LLaDA-MoE config.json dialect");
        if (c.EmbeddingRows != c.VocabSize) throw new ArgumentException($"LLaDA-MoE configs have no embedding_size; {c.EmbeddingRows} rows differ from vocab_size {c.VocabSize}");
        bool md = c.Kind == ModelKind.MaskedDiffusion && c.Attention == AttentionKind.Bidirectional;
        return new LladaMoeConfig
        {
            Architectures = c.Architectures?.Any(x => x is Architecture or "LLaDAMoEModel") == true ? c.Architectures : [Architecture],
            ModelType = c.ModelType is "llada" or "lladamoe" ? c.ModelType : "llada",
            QkLayernorm = c.QkNorm, PartialRotaryFactor = 1.0,
            Extra = c.Extra ?? new() { ["norm_topk_prob"] = JsonSerializer.SerializeToElement(false) },
            VocabSize = c.VocabSize, HiddenSize = c.DModel, DenseIntermediateSize = c.MlpHiddenSize, ExpertIntermediateSize = m.ExpertHidden,
            SharedExpertIntermediateSize = m.SharedExpertHidden > 0 ? m.SharedExpertHidden : null,
            NumHiddenLayers = c.NLayers, NumAttentionHeads = c.NHeads, NumKeyValueHeads = c.KvHeads,
            MaxPositionEmbeddings = c.MaxSequenceLength, RmsNormEps = c.RmsNormEps, RopeTheta = c.RopeTheta,
            PadTokenId = c.PadTokenId, EosTokenId = c.EosTokenId, MaskTokenId = c.MaskTokenId, TieWordEmbeddings = c.WeightTying,
            NumExperts = m.Experts, NumExpertsPerTok = m.TopK, RouterAuxLossCoef = m.AuxLossCoef, MoeLayerFreq = m.LayerFreq,
            MoeRouterEnableExpertBias = m.ExpertBias,
            Kind = md ? null : c.Kind, Attention = md ? null : c.Attention, BlockSize = c.BlockSize,
        };
    }

    /// <summary>Indented JSON with LLaDA-MoE's field names.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions
    {
        WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
