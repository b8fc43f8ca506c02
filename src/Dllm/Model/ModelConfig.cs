using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dllm.IO;
using Dllm.Tensors;

namespace Dllm.Model;

/// <summary>What a checkpoint's weights were trained to predict, and so how it is decoded.</summary>
public enum ModelKind
{
    /// <summary>A mask predictor: bidirectional attention, decoded by denoising (LLaDA, Dream).</summary>
    [JsonStringEnumMemberName("masked_diffusion")] MaskedDiffusion,
    /// <summary>A next-token predictor: causal attention, decoded left to right (the AR baseline).</summary>
    [JsonStringEnumMemberName("autoregressive")] Autoregressive,
    /// <summary>Diffusion inside blocks, autoregressive across them: block-causal attention (BD3-LM, arXiv 2503.09573).</summary>
    [JsonStringEnumMemberName("block_diffusion")] BlockDiffusion,
    /// <summary>Gaussian diffusion on learned word embeddings, x0 prediction and rounding (Diffusion-LM, arXiv 2205.14217).</summary>
    [JsonStringEnumMemberName("diffusion_lm")] DiffusionLm,
    /// <summary>Diffusion-LM with partial noising: the prompt's embeddings anchored, only the response noised (DiffuSeq, arXiv 2210.08933).</summary>
    [JsonStringEnumMemberName("diffuseq")] DiffuSeq,
    /// <summary>Gaussian diffusion on almost-one-hot vocabulary logits, semi-autoregressive blocks (SSD-LM, arXiv 2210.17432).</summary>
    [JsonStringEnumMemberName("ssd_lm")] SsdLm,
}

/// <summary>Which keys a query may see, as <c>config.json</c> spells it (see <see cref="AttentionPattern"/>).</summary>
public enum AttentionKind
{
    [JsonStringEnumMemberName("bidirectional")] Bidirectional,
    [JsonStringEnumMemberName("causal")] Causal,
    [JsonStringEnumMemberName("block_causal")] BlockCausal,
}

/// <summary>Whose <c>config.json</c> dialect and tensor names a checkpoint uses; the block is the same.
/// What sets each apart is data: its row in <see cref="ModelFamilies"/>.</summary>
public enum ModelFamily
{
    /// <summary>LLaDA (<c>LLaDAModelLM</c>): OLMo-style field names, <c>model.transformer.blocks.{i}.*</c> tensors.</summary>
    Llada,
    /// <summary>Dream (<c>DreamModel</c>): Qwen2 field names and tensors, q/k/v biases, logits shifted by one.</summary>
    Dream,
    /// <summary>Qwen2 / Qwen2.5 (<c>Qwen2ForCausalLM</c>): a causal LM with q/k/v biases.</summary>
    Qwen2,
    /// <summary>Qwen3 (<c>Qwen3ForCausalLM</c>): a causal LM with per-head q/k RMSNorm and an explicit head_dim.</summary>
    Qwen3,
    /// <summary>LLaDA-MoE (<c>LLaDAMoEModelLM</c>): OLMoE-style field names and tensors, mixture-of-experts FFNs (<see cref="LladaMoeConfig"/>).</summary>
    LladaMoe,
    /// <summary>SDAR (<c>SDARForCausalLM</c>, JetAstra/SDAR): the Qwen3 block trained as block diffusion (blocks of 4 by default).</summary>
    Sdar,
    /// <summary>Fast-dLLM v2 (<c>Fast_dLLM_QwenForCausalLM</c>, NVlabs): the Qwen2.5 block adapted to block diffusion
    /// (<c>bd_size</c>), logits shifted by one like Dream.</summary>
    FastDllmV2,
    /// <summary>LLaDA2.0 / LLaDA2.1 (<c>LLaDA2MoeModelLM</c>, inclusionAI): fused q/k/v, partial rotary, q/k norms,
    /// an output bias, the sigmoid grouped MoE router; block diffusion (blocks of 32 by default).</summary>
    Llada2,
}

/// <summary>
/// The one configuration of the transformer (<see cref="Transformer"/>), for inference and training
/// alike: the shape, the attention pattern, the model's kind and its special ids. It is read from and
/// written to <c>config.json</c> in the dialect of its <see cref="Family"/>: LLaDA's field names (those
/// the Python reference <c>configuration_llada.py</c> reads and writes, as serialised by this record),
/// the Hugging Face names of Qwen2, Qwen3 and Dream (<see cref="HfConfigDialect"/>) or LLaDA-MoE's
/// (<see cref="LladaMoeConfig"/>, the only dialect with a <see cref="Moe"/> part).
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
public sealed record ModelConfig
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
    /// <summary>Width of one attention head when it is not d_model / n_heads (Qwen3's head_dim); null means
    /// d_model / n_heads. See <see cref="HeadDim"/>. Not a LLaDA field: written only when set.</summary>
    [JsonPropertyName("head_dim"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? ExplicitHeadDim { get; init; }
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
    /// <summary>A bias on o_proj (Qwen3's attention_bias, which also sets <see cref="IncludeQkvBias"/>); no LLaDA field.</summary>
    [JsonIgnore] public bool IncludeOutBias { get; init; }
    /// <summary>When true there is no model.transformer.ff_out.weight: wte is the LM head.</summary>
    [JsonPropertyName("weight_tying")] public bool WeightTying { get; init; }
    [JsonPropertyName("scale_logits")] public bool ScaleLogits { get; init; }
    [JsonPropertyName("input_emb_norm")] public bool InputEmbNorm { get; init; }

    [JsonPropertyName("eos_token_id")] public int EosTokenId { get; init; } = 126081;
    [JsonPropertyName("pad_token_id")] public int PadTokenId { get; init; } = 126081;
    [JsonPropertyName("mask_token_id")] public int MaskTokenId { get; init; } = 126336;
    /// <summary>Beginning-of-sequence id where the config names one (Qwen's bos_token_id); null otherwise.</summary>
    [JsonPropertyName("bos_token_id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? BosTokenId { get; init; }

    /// <summary>A special id the config does not have (a null or absent eos/pad/mask_token_id in the
    /// Hugging Face dialect: a plain Qwen model has no mask token and often no pad token).</summary>
    public const int NoToken = -1;

    /// <summary>What the weights predict (Dllm's field; absent in published LLaDA configs, which are masked diffusion).</summary>
    [JsonPropertyName("model_kind"), JsonConverter(typeof(JsonStringEnumConverter<ModelKind>))]
    public ModelKind Kind { get; init; } = ModelKind.MaskedDiffusion;
    /// <summary>Attention pattern (Dllm's field): bidirectional for masked diffusion, causal for AR, block_causal for block diffusion.</summary>
    [JsonPropertyName("attention"), JsonConverter(typeof(JsonStringEnumConverter<AttentionKind>))]
    public AttentionKind Attention { get; init; } = AttentionKind.Bidirectional;
    /// <summary>Block size of block_causal attention; 0 (and not written) for the other patterns.</summary>
    [JsonPropertyName("block_size"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int BlockSize { get; init; }

    /// <summary>Continuous families only (<see cref="IsContinuous"/>): the number of diffusion timesteps T the model
    /// was trained with (Dllm's field; 0 and not written for the other kinds).</summary>
    [JsonPropertyName("diffusion_steps"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int DiffusionSteps { get; init; }
    /// <summary>Continuous families only: the ᾱ schedule, "sqrt" (Diffusion-LM, DiffuSeq) or "cosine" (SSD-LM); see <c>NoiseSchedule</c>.</summary>
    [JsonPropertyName("noise_schedule"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? NoiseSchedule { get; init; }
    /// <summary>SSD-LM only: K of the almost-one-hot representation (+K at the token, −K elsewhere; the paper's K = 5).</summary>
    [JsonPropertyName("simplex_k"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public double SimplexK { get; init; }
    /// <summary>SSD-LM only: tokens per semi-autoregressive block in training (and the default block at sampling).</summary>
    [JsonPropertyName("ssd_block_size"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int SsdBlockSize { get; init; }

    /// <summary>True for the continuous diffusion families (Diffusion-LM, DiffuSeq, SSD-LM): they take input
    /// vectors, not token ids, and are decoded by their own samplers, not the masked-diffusion one.</summary>
    [JsonIgnore] public bool IsContinuous => Kind is ModelKind.DiffusionLm or ModelKind.DiffuSeq or ModelKind.SsdLm;

    /// <summary>True for Diffusion-LM and DiffuSeq: the model predicts x0 in the word-embedding space.</summary>
    [JsonIgnore] public bool IsEmbeddingDiffusion => Kind is ModelKind.DiffusionLm or ModelKind.DiffuSeq;

    /// <summary>Every config.json field not modelled above, kept so a re-written config loses nothing.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; init; }

    /// <summary>The file this config was loaded from (used in error messages); null when built in code.</summary>
    [JsonIgnore] public string? SourcePath { get; init; }

    /// <summary>head_dim where the config gives one, else d_model / n_heads. q_proj is [heads·HeadDim × d], o_proj [d × heads·HeadDim].</summary>
    [JsonIgnore] public int HeadDim => ExplicitHeadDim ?? DModel / NHeads;
    /// <summary>n_kv_heads, or n_heads when absent.</summary>
    [JsonIgnore] public int KvHeads => NKvHeads ?? NHeads;
    /// <summary>embedding_size, or vocab_size when absent.</summary>
    [JsonIgnore] public int EmbeddingRows => EmbeddingSize ?? VocabSize;

    /// <summary>The config.json dialect and tensor names; set by the reader, not a JSON field.</summary>
    [JsonIgnore] public ModelFamily Family { get; init; } = ModelFamily.Llada;

    /// <summary>The row of <see cref="Family"/> in <see cref="ModelFamilies"/>.</summary>
    [JsonIgnore] public FamilySpec Spec => ModelFamilies.Of(Family);

    /// <summary>The mixture-of-experts FFNs (LLaDA-MoE family only); null for a dense model.</summary>
    [JsonIgnore] public MoeConfig? Moe { get; init; }

    /// <summary>Width of the dense FFN as the buffers need it: <see cref="MlpHiddenSize"/>, or 0 when every layer is a mixture of experts.</summary>
    [JsonIgnore] public int DenseMlpHidden => Moe is { HasDenseLayer: false } ? 0 : MlpHiddenSize;

    /// <summary>
    /// True for Dream: the logits for position p are read from the hidden state at p − 1 (position 0
    /// reads its own), since Dream was initialised from an autoregressive model (Dream's generate).
    /// </summary>
    [JsonIgnore] public bool ShiftLogits => Spec.ShiftLogits || AdaptedShift;

    /// <summary>
    /// Dllm's <c>shift_logits</c> field: a diffusion model adapted from an autoregressive one (<c>dllm adapt</c>) keeps
    /// reading position p's logits from row p − 1, so every position goes on predicting the next token as it was
    /// trained to (DiffuLLaMA's shift, Gong et al. 2024; Fast-dLLM v2's token shift). Dream and Fast-dLLM v2 shift always.
    /// </summary>
    [JsonPropertyName("shift_logits"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool AdaptedShift { get; init; }

    /// <summary>The fraction of each head that RoPE rotates (LLaDA2's <c>partial_rotary_factor</c>, 0.5 in the published
    /// minis); 1 elsewhere. Not a LLaDA field: only families with <see cref="FamilySpec.PartialRotary"/> express it.</summary>
    [JsonIgnore] public double PartialRotaryFactor { get; init; } = 1.0;

    /// <summary>Dims of each head RoPE rotates, from its start: <c>int(head_dim · partial_rotary_factor)</c> as
    /// modeling_llada2_moe.py (LLaDA2MoeAttention.rope_dim) and transformers' default inv_freq compute it (truncated).</summary>
    [JsonIgnore] public int RopeDim => (int)(HeadDim * PartialRotaryFactor);

    /// <summary>True for Qwen3: q and k are RMS-normalised per head (weights q_norm, k_norm [head_dim]) after the projection, before RoPE.</summary>
    [JsonIgnore] public bool QkNorm { get; init; }

    /// <summary>model_kind as config.json spells it ("masked_diffusion", "autoregressive", "block_diffusion").</summary>
    [JsonIgnore] public string KindName => Json(Kind).Trim('"');

    /// <summary>attention as config.json spells it, with the block size for block_causal ("block_causal, block_size 4").</summary>
    [JsonIgnore] public string AttentionName => Json(Attention).Trim('"') + (Attention == AttentionKind.BlockCausal ? $", block_size {BlockSize}" : "");

    /// <summary>The attention pattern the kernels run.</summary>
    [JsonIgnore] public AttentionPattern Pattern => Attention switch
    {
        AttentionKind.Causal => AttentionPattern.Causal,
        AttentionKind.BlockCausal => AttentionPattern.BlockCausal(BlockSize),
        _ => AttentionPattern.Bidirectional,
    };

    /// <summary>The tensor names of <see cref="Family"/>.</summary>
    [JsonIgnore] public WeightNames Names => Spec.Names;

    /// <summary>This config in another family's dialect and tensor names, with what that family fixes:
    /// its architecture and model_type, and its biases (Qwen2/Dream: q/k/v; Qwen3: as <paramref name="attentionBias"/>
    /// says, on q/k/v and o alike; LLaDA: none). Kind, attention and shape are kept; the unmodelled fields
    /// of another dialect (<see cref="Extra"/>) are dropped.</summary>
    public ModelConfig WithFamily(ModelFamily family, bool attentionBias = false)
    {
        FamilySpec spec = ModelFamilies.Of(family);
        return this with
        {
            Family = family, Architectures = [spec.Architecture], ModelType = spec.ModelType,
            Extra = family == Family ? Extra : null,
            IncludeQkvBias = spec.Bias == BiasRule.QkvAlways || (spec.Bias == BiasRule.AttentionBias && attentionBias),
            IncludeOutBias = spec.Bias == BiasRule.AttentionBias && attentionBias,
            QkNorm = spec.QkNorm || (QkNorm && spec.QkNormOptional),
        };
    }

    /// <summary>This config for a model of another kind, with the attention pattern that kind needs
    /// (masked diffusion → bidirectional, autoregressive → causal, block diffusion → block-causal with <paramref name="blockSize"/>).</summary>
    public ModelConfig As(ModelKind kind, int blockSize = 0) => this with
    {
        Kind = kind,
        Attention = kind switch { ModelKind.Autoregressive => AttentionKind.Causal, ModelKind.BlockDiffusion => AttentionKind.BlockCausal, _ => AttentionKind.Bidirectional },
        BlockSize = kind == ModelKind.BlockDiffusion ? blockSize : 0,
    };

    /// <summary>Dllm's enums as config.json spells them ("masked_diffusion", "block_causal").</summary>
    internal static readonly JsonSerializerOptions EnumOptions = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>An enum value as config.json spells it, quoted.</summary>
    private static string Json<T>(T value) where T : struct, Enum => JsonSerializer.Serialize(value, EnumOptions);

    private static readonly JsonSerializerOptions ReadOptions = new() { AllowTrailingCommas = false };

    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// Reads <paramref name="configJsonPath"/> in the dialect of the family it names (see
    /// <see cref="ModelFamilies.Detect"/>: LLaDA's unless its architectures or model_type name another
    /// family) and, unless told otherwise, <see cref="Validate"/>s it.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Invalid JSON, a wrongly typed or missing required field, or a
    /// failed validation; the message names the file (and the JSON path for JSON problems).</exception>
    public static ModelConfig Load(string configJsonPath, bool validate = true)
    {
        string path = Path.GetFullPath(configJsonPath);
        if (!File.Exists(path)) throw new FileNotFoundException($"config not found: {path}", path);
        InputFile.Require(path, "config");
        byte[] bytes = File.ReadAllBytes(path);
        ModelConfig? c;
        try
        {
            using (JsonDocument doc = JsonDocument.Parse(bytes))
            {
                FamilySpec spec = ModelFamilies.Detect(doc.RootElement);
                if (spec.Dialect == ConfigDialect.HuggingFace)
                {
                    ModelConfig hf = HfConfigDialect.Read(spec, path, doc.RootElement);
                    if (validate) hf.Validate();
                    return hf;
                }
                if (spec.Dialect == ConfigDialect.LladaMoe)
                {
                    ModelConfig moe = LladaMoeConfig.Load(path).ToModelConfig(path);
                    if (validate) moe.Validate();
                    return moe;
                }
            }
            c = JsonSerializer.Deserialize<ModelConfig>(bytes, ReadOptions);
        }
        catch (Exception e) when (JsonErrors.IsContentError(e))
        {
            throw new InvalidDataException($"{path}: invalid config JSON: {JsonErrors.OneLine(e.Message)}", e);
        }
        if (c is null) throw new InvalidDataException($"{path}: config JSON is null");
        c = c with { SourcePath = path };
        if (c.MlpHiddenSize == 0)
        {
            long hidden = (long)c.MlpRatio * c.DModel;
            if (hidden is <= 0 or > int.MaxValue)
                throw new InvalidDataException($"{path}: mlp_hidden_size is absent and mlp_ratio {c.MlpRatio} × d_model {c.DModel} = {hidden} is not a usable width");
            c = c with { MlpHiddenSize = (int)hidden };
        }
        if (validate) c.Validate();
        return c;
    }

    /// <summary>
    /// The config as indented JSON in its family's dialect. For LLaDA: the Python field names, with
    /// n_kv_heads and embedding_size written with their effective values (the Python defaults for
    /// absent ones are not ours). For the Hugging Face families: see <see cref="HfConfigDialect.Write"/>.
    /// </summary>
    public string ToJson()
    {
        if (Spec.Dialect == ConfigDialect.HuggingFace) return HfConfigDialect.Write(this);
        if (Spec.Dialect == ConfigDialect.LladaMoe) return LladaMoeConfig.FromModelConfig(this).ToJson();
        ModelConfig explicitValues = this with { NKvHeads = KvHeads, EmbeddingSize = EmbeddingRows };
        return JsonSerializer.Serialize(explicitValues, WriteOptions);
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> atomically (tmp file, then rename).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    /// <summary>
    /// Checks that this engine can run the model the config describes. Messages name the field as the
    /// family's dialect spells it (d_model for LLaDA, hidden_size for Qwen) and the file.
    /// </summary>
    /// <exception cref="InvalidDataException">Names the offending field and value: an architecture or model_type
    /// not of the config's family, a block_type other than llama, non-positive sizes, d_model not divisible
    /// by n_heads (without an explicit head_dim), a head_dim the family cannot express, n_heads not
    /// divisible by n_kv_heads, an odd head dim (RoPE rotates pairs), a partial_rotary_factor the family cannot
    /// express or whose rotary dim is odd, 0 or above the head dim, activation other than silu/swiglu,
    /// layer norm other than rms, include_bias, biases the family cannot express, rope disabled,
    /// embedding_size below vocab_size, special token ids outside the embedding (eos/pad may be
    /// <see cref="NoToken"/>; mask only for an autoregressive model), or an attention pattern that does not
    /// fit the model_kind (masked_diffusion → bidirectional, autoregressive → causal, block_diffusion →
    /// block_causal with a positive block_size); for LLaDA-MoE and LLaDA2, MoE fields out of range
    /// (<see cref="MoeConfig.Validate"/>), experts outside those families, a LLaDA2 router other than the sigmoid
    /// one with its expert bias.</exception>
    public void Validate()
    {
        string where = SourcePath ?? "config.json";
        FamilySpec spec = Spec;
        InvalidDataException Bad(string msg) => new($"{msg} in {where}");
        string F(string lladaField) => spec.Dialect == ConfigDialect.Llada ? lladaField : HfConfigDialect.FieldName(lladaField);

        if (Architectures is null || Architectures.Length == 0)
            throw Bad($"no architectures listed (Dllm supports {ModelFamilies.SupportedArchitectures})");
        if (!Architectures.Contains(spec.Architecture))
            throw new InvalidDataException($"unsupported architecture '{string.Join("', '", Architectures)}' in {where}: Dllm supports {ModelFamilies.SupportedArchitectures}");
        if (ModelType != spec.ModelType && !spec.ModelTypeAliases.Contains(ModelType))
            throw new InvalidDataException($"unsupported model_type '{ModelType}' in {where}: Dllm supports {spec.ModelType}");
        if (BlockType != "llama")
            throw new InvalidDataException($"unsupported block_type '{BlockType}' in {where}: Dllm supports llama (separate q/k/v/ff/up projections)");

        Positive(F("d_model"), DModel);
        Positive(F("n_heads"), NHeads);
        if (NKvHeads is int kv) Positive(F("n_kv_heads"), kv);
        Positive(F("n_layers"), NLayers);
        if (QkNorm != spec.QkNorm && !spec.QkNormOptional)
            throw Bad(spec.QkNorm ? $"the {spec.Name} block always has q/k norms" : $"the {spec.Name} block has no q/k norms");
        if (Moe is not null && spec.Router is null) throw Bad($"experts need a mixture-of-experts layout (LLaDA-MoE, LLaDA2); the {spec.Name} family has none");
        if (Family == ModelFamily.LladaMoe && Moe is null) throw Bad("a LLaDA-MoE config needs its experts (num_experts, moe_layer_freq, ...)");
        if (Family == ModelFamily.Llada2 && Moe is not null && (Moe.Router != RouterScoring.Llada2Sigmoid || !Moe.ExpertBias))
            throw Bad("LLaDA2's experts need its sigmoid router with the expert bias (mlp.gate.expert_bias is always a buffer of LLaDA2MoeGate)");
        Moe?.Validate(NLayers, where);
        if (Moe is null || Moe.HasDenseLayer) Positive(Moe is not null && Family == ModelFamily.LladaMoe ? "dense_intermediate_size" : F("mlp_hidden_size"), MlpHiddenSize);
        Positive("vocab_size", VocabSize);
        if (EmbeddingSize is int es) Positive(F("embedding_size"), es);
        Positive(F("max_sequence_length"), MaxSequenceLength);
        if (ExplicitHeadDim is int hd)
        {
            Positive("head_dim", hd);
            if (!spec.ReadsHeadDim && hd * NHeads != DModel)
                throw Bad($"head_dim {hd} is not {F("d_model")} {DModel} / {F("n_heads")} {NHeads}, and {spec.Name} has no head_dim of its own");
        }
        else if (DModel % NHeads != 0)
            throw Bad($"{F("d_model")} {DModel} is not divisible by {F("n_heads")} {NHeads}");
        if (NHeads % KvHeads != 0)
            throw Bad($"{F("n_heads")} {NHeads} is not divisible by {F("n_kv_heads")} {KvHeads}");
        if (HeadDim % 2 != 0)
            throw Bad($"head dim {HeadDim} is odd; RoPE needs an even head dim");
        if (PartialRotaryFactor != 1.0 && !spec.PartialRotary)
            throw Bad($"partial_rotary_factor {PartialRotaryFactor} is not expressible in {spec.Name}'s config (RoPE over the whole head only)");
        if (!(PartialRotaryFactor > 0) || PartialRotaryFactor > 1 || RopeDim % 2 != 0 || RopeDim == 0)
            throw Bad($"partial_rotary_factor {PartialRotaryFactor} × head dim {HeadDim} gives {RopeDim} rotary dims; RoPE needs an even number in 2..{HeadDim}");
        if (EmbeddingRows < VocabSize)
            throw Bad($"embedding_size {EmbeddingRows} is smaller than vocab_size {VocabSize}");

        if (!Rope)
            throw Bad("rope false is unsupported (Dllm implements rotary position embeddings only)");
        if (!(RopeTheta > 0) || !double.IsFinite(RopeTheta)) throw Bad($"rope_theta must be a finite positive number, found {RopeTheta}");
        if (!(RmsNormEps > 0) || !(RmsNormEps < 1)) throw Bad($"rms_norm_eps must be positive and below 1, found {RmsNormEps}");
        if (ActivationType is not ("silu" or "swiglu"))
            throw Bad($"unsupported {F("activation_type")} '{ActivationType}' (Dllm supports silu, swiglu)");
        if (LayerNormType != "rms")
            throw Bad($"unsupported layer_norm_type '{LayerNormType}' (Dllm supports rms)");
        if (IncludeBias)
            throw Bad("include_bias true is unsupported (Dllm's linear layers have no bias)");
        string biases = $"q/k/v bias {IncludeQkvBias.ToString().ToLowerInvariant()}, o_proj bias {IncludeOutBias.ToString().ToLowerInvariant()}";
        switch (spec.Bias)
        {
            case BiasRule.QkvField when IncludeOutBias:
                throw Bad($"an o_proj bias is not expressible in {spec.Name}'s config ({biases})");
            case BiasRule.QkvAlways when !IncludeQkvBias || IncludeOutBias:
                throw Bad($"{spec.Name} has q/k/v biases and no o_proj bias, found {biases}");
            case BiasRule.AttentionBias when IncludeQkvBias != IncludeOutBias:
                throw Bad($"{spec.Name}'s attention_bias puts a bias on q, k, v and o alike, found {biases}");
        }

        if (!Enum.IsDefined(Kind)) throw Bad($"unknown model_kind {(int)Kind}");
        if (!Enum.IsDefined(Attention)) throw Bad($"unknown attention {(int)Attention}");
        AttentionKind needed = Kind switch { ModelKind.Autoregressive => AttentionKind.Causal, ModelKind.BlockDiffusion => AttentionKind.BlockCausal, _ => AttentionKind.Bidirectional };
        if (Attention != needed)
            throw Bad($"model_kind {Json(Kind)} needs attention {Json(needed)}, found {Json(Attention)}");
        if (Attention == AttentionKind.BlockCausal) Positive("block_size", BlockSize);
        else if (BlockSize != 0) throw Bad($"block_size {BlockSize} is only meaningful with attention block_causal");
        if (Family == ModelFamily.LladaMoe && IncludeQkvBias) throw Bad("include_qkv_bias is unsupported for LLaDA-MoE (attention_bias false only)");
        if (ShiftLogits && Kind == ModelKind.Autoregressive)
            throw Bad($"the {spec.Name} layout is a diffusion model (its logits are shifted); model_kind {Json(Kind)} is unsupported for it");

        ContinuousFields.Validate(this, Bad);

        if (MaskTokenId == NoToken && Kind != ModelKind.Autoregressive)
            throw Bad($"no mask_token_id: a {Json(Kind)} model needs one");
        TokenId("mask_token_id", MaskTokenId);
        TokenId("eos_token_id", EosTokenId);
        TokenId("pad_token_id", PadTokenId);
        if (BosTokenId is int bos) TokenId("bos_token_id", bos);

        void Positive(string field, int value)
        {
            if (value <= 0) throw Bad($"{field} must be positive, found {value}");
        }

        void TokenId(string field, int id)
        {
            if (id != NoToken && (id < 0 || id >= EmbeddingRows))
                throw Bad($"{field} {id} is outside the embedding table (0..{EmbeddingRows - 1})");
        }
    }
}
