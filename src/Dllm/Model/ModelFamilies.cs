using System.Text.Json;

namespace Dllm.Model;

/// <summary>Which config.json dialect a family speaks.</summary>
public enum ConfigDialect
{
    /// <summary>LLaDA's OLMo-style field names (d_model, n_heads, ...), read and written by <see cref="ModelConfig"/> itself.</summary>
    Llada,
    /// <summary>The Hugging Face Qwen2 lineage (hidden_size, num_attention_heads, ...): <see cref="HfConfigDialect"/>.</summary>
    HuggingFace,
    /// <summary>LLaDA-MoE's OLMoE-style fields (num_experts, moe_layer_freq, ...): <see cref="LladaMoeConfig"/>.</summary>
    LladaMoe,
}

/// <summary>Where a family's attention projections have biases, and which config field says so.</summary>
public enum BiasRule
{
    /// <summary>LLaDA: <c>include_qkv_bias</c> puts biases on q/k/v; there is no o_proj bias on its own
    /// (<c>include_bias</c>, a bias on every linear layer, is refused).</summary>
    QkvField,
    /// <summary>Qwen2 / Qwen2.5 / Dream: q/k/v always have biases, o_proj never
    /// (modeling_qwen2.py Qwen2Attention: <c>bias=True</c> on q/k/v, <c>bias=False</c> on o).</summary>
    QkvAlways,
    /// <summary>Qwen3: <c>attention_bias</c> (default false) puts a bias on q, k, v and o alike
    /// (modeling_qwen3.py Qwen3Attention: <c>bias=config.attention_bias</c> on all four).</summary>
    AttentionBias,
    /// <summary>LLaDA2: <c>use_qkv_bias</c> (default false) puts a bias on the fused query_key_value, <c>use_bias</c>
    /// (default true) one on the output projection <c>dense</c>, independently (modeling_llada2_moe.py LLaDA2MoeAttention).</summary>
    SeparateFields,
}

/// <summary>
/// The defaults a Hugging Face family's Python config class gives to absent fields (its
/// <c>__init__</c> keyword defaults; <c>null</c> ids are "none"; a size of 0 stands for a default of None,
/// which validation then refuses where the model needs it). <see cref="HeadDim"/> null means
/// hidden_size / num_attention_heads.
/// </summary>
public sealed record HfDefaults(
    int VocabSize, int HiddenSize, int IntermediateSize, int NumHiddenLayers, int NumAttentionHeads, int NumKeyValueHeads,
    int MaxPositionEmbeddings, double RmsNormEps, double RopeTheta, bool TieWordEmbeddings,
    int? HeadDim = null, int? BosTokenId = null, int? EosTokenId = null, int? PadTokenId = null, int? MaskTokenId = null)
{
    /// <summary>transformers' Qwen2Config (configuration_qwen2.py), which Qwen3Config and Dream's DreamConfig copy.</summary>
    public static readonly HfDefaults Qwen2 = new(VocabSize: 151936, HiddenSize: 4096, IntermediateSize: 22016, NumHiddenLayers: 32,
        NumAttentionHeads: 32, NumKeyValueHeads: 32, MaxPositionEmbeddings: 32768, RmsNormEps: 1e-6, RopeTheta: 10000.0,
        TieWordEmbeddings: false);
}

/// <summary>
/// One model family as data: the architecture name and model_type that identify its config.json,
/// the dialect that reads and writes it, its tensor names, and what sets its block apart (biases,
/// Qwen3's q/k RMSNorm, Dream's shifted logits, the kind a plain checkpoint is). The block itself is
/// the one <see cref="Transformer"/>; adding a family is adding a row to <see cref="ModelFamilies"/>.
/// </summary>
public sealed record FamilySpec
{
    public required ModelFamily Family { get; init; }
    /// <summary>Its name in messages and <c>dllm info</c> ("Qwen3").</summary>
    public required string Name { get; init; }
    /// <summary>The <c>architectures</c> entry of its config.json ("Qwen3ForCausalLM").</summary>
    public required string Architecture { get; init; }
    /// <summary>Its <c>model_type</c> ("qwen3"; Dream spells it "Dream").</summary>
    public required string ModelType { get; init; }
    public required WeightNames Names { get; init; }
    public ConfigDialect Dialect { get; init; } = ConfigDialect.HuggingFace;
    /// <summary>The Python config class's defaults (Hugging Face dialect only).</summary>
    public HfDefaults? Defaults { get; init; }
    /// <summary>What a checkpoint of this family is when its config.json has no Dllm <c>model_kind</c>.</summary>
    public ModelKind DefaultKind { get; init; } = ModelKind.Autoregressive;
    public BiasRule Bias { get; init; } = BiasRule.QkvAlways;
    /// <summary>Whether the modelling code reads a <c>head_dim</c> field (Qwen2 and Qwen3 do,
    /// <c>getattr(config, "head_dim", ...)</c>; Dream and LLaDA always use hidden / heads).</summary>
    public bool ReadsHeadDim { get; init; }
    /// <summary>Qwen3's per-head RMSNorm of q and k after the projection, before RoPE (<c>self_attn.q_norm</c>, <c>k_norm</c>).</summary>
    public bool QkNorm { get; init; }
    /// <summary>The q/k norms are a per-checkpoint choice of the config (LLaDA-MoE's <c>qk_layernorm</c>).</summary>
    public bool QkNormOptional { get; init; }
    /// <summary>Other <c>model_type</c> spellings of the family seen in published configs.</summary>
    public string[] ModelTypeAliases { get; init; } = [];
    /// <summary>Dream: the logits for position p are read from the hidden state at p − 1 (position 0
    /// reads its own), since Dream was initialised from an autoregressive model (Dream's generation_utils.py).</summary>
    public bool ShiftLogits { get; init; }
    /// <summary>Block diffusion families: the block size when the config does not give one (SDAR's configs do not).</summary>
    public int DefaultBlockSize { get; init; }
    /// <summary>The config field that holds the block size: Dllm's <c>block_size</c>, or the family's own (Fast-dLLM v2's <c>bd_size</c>).</summary>
    public string BlockSizeField { get; init; } = "block_size";
    /// <summary>Whether <c>use_sliding_window</c> changes the attention (Qwen2/Qwen3 layers ≥
    /// max_window_layers); Dream's SDPA attention ignores it.</summary>
    public bool SlidingWindowApplies { get; init; }
    /// <summary>Whether the config's <c>partial_rotary_factor</c> is read (LLaDA2: RoPE on the first
    /// int(head_dim · factor) dims of each head); elsewhere a factor other than 1 is refused.</summary>
    public bool PartialRotary { get; init; }
    /// <summary>The router of the family's mixture-of-experts layers; null for a family without experts.</summary>
    public RouterScoring? Router { get; init; }
}

/// <summary>The families Dllm runs, one row each, and how a config.json is matched to one.</summary>
public static class ModelFamilies
{
    /// <summary>LLaDA (<c>LLaDAModelLM</c>, ML-GSAI/LLaDA configuration_llada.py): masked diffusion, bidirectional.</summary>
    public static readonly FamilySpec Llada = new()
    {
        Family = ModelFamily.Llada, Name = "LLaDA", Architecture = "LLaDAModelLM", ModelType = "llada",
        Names = WeightNames.Llada, Dialect = ConfigDialect.Llada, DefaultKind = ModelKind.MaskedDiffusion, Bias = BiasRule.QkvField,
    };

    /// <summary>Dream (<c>DreamModel</c>, DreamLM/Dream configuration_dream.py / modeling_dream.py): the Qwen2
    /// block trained as masked diffusion from Qwen2.5, bidirectional, logits shifted by one; mask id 151666.</summary>
    public static readonly FamilySpec Dream = new()
    {
        Family = ModelFamily.Dream, Name = "Dream", Architecture = "DreamModel", ModelType = "Dream", Names = WeightNames.Qwen,
        Defaults = HfDefaults.Qwen2 with { PadTokenId = 151643, MaskTokenId = 151666 },
        DefaultKind = ModelKind.MaskedDiffusion, ShiftLogits = true,
    };

    /// <summary>Qwen2 and Qwen2.5 (<c>Qwen2ForCausalLM</c>, transformers modeling_qwen2.py): a causal LM with q/k/v biases.</summary>
    public static readonly FamilySpec Qwen2 = new()
    {
        Family = ModelFamily.Qwen2, Name = "Qwen2", Architecture = "Qwen2ForCausalLM", ModelType = "qwen2", Names = WeightNames.Qwen,
        Defaults = HfDefaults.Qwen2, ReadsHeadDim = true, SlidingWindowApplies = true,
    };

    /// <summary>Qwen3 (<c>Qwen3ForCausalLM</c>, transformers modeling_qwen3.py): a causal LM with per-head q/k
    /// RMSNorm, an explicit head_dim (default 128, need not be hidden / heads) and optional attention_bias.</summary>
    public static readonly FamilySpec Qwen3 = new()
    {
        Family = ModelFamily.Qwen3, Name = "Qwen3", Architecture = "Qwen3ForCausalLM", ModelType = "qwen3", Names = WeightNames.Qwen,
        Defaults = HfDefaults.Qwen2 with { HeadDim = 128 }, Bias = BiasRule.AttentionBias, ReadsHeadDim = true, QkNorm = true,
        SlidingWindowApplies = true,
    };

    /// <summary>LLaDA-MoE (<c>LLaDAMoEModelLM</c>, inclusionAI's configuration/modeling_lladamoe.py): OLMoE-style
    /// config fields (<see cref="LladaMoeConfig"/>), Llama tensor names, mixture-of-experts FFNs, optional q/k
    /// norms (<c>qk_layernorm</c>), masked diffusion; model_type "llada" as published, "lladamoe" in some copies.</summary>
    public static readonly FamilySpec LladaMoe = new()
    {
        Family = ModelFamily.LladaMoe, Name = "LLaDA-MoE", Architecture = LladaMoeConfig.Architecture, ModelType = "llada",
        ModelTypeAliases = ["lladamoe"], Names = WeightNames.Qwen, Dialect = ConfigDialect.LladaMoe,
        DefaultKind = ModelKind.MaskedDiffusion, Bias = BiasRule.QkvField, QkNormOptional = true, Router = RouterScoring.LladaMoeSoftmax,
    };

    /// <summary>SDAR (<c>SDARForCausalLM</c>, model_type "sdar", JetAstra/SDAR): Qwen3's block and config fields, trained as
    /// block diffusion; the block size is not in its config (SDAR's generate.py and SGLang use 4), the mask is the
    /// tokenizer's <c>&lt;|MASK|&gt;</c> (151669 in the published vocabulary).</summary>
    public static readonly FamilySpec Sdar = Qwen3 with
    {
        Family = ModelFamily.Sdar, Name = "SDAR", Architecture = "SDARForCausalLM", ModelType = "sdar",
        Defaults = HfDefaults.Qwen2 with { HeadDim = 128, MaskTokenId = 151669 },
        DefaultKind = ModelKind.BlockDiffusion, DefaultBlockSize = 4,
    };

    /// <summary>Fast-dLLM v2 (<c>Fast_dLLM_QwenForCausalLM</c>, model_type "Fast_dLLM_Qwen", Efficient-Large-Model/Fast_dLLM_v2_*):
    /// Qwen2.5's block and config fields, block diffusion with blocks of <c>bd_size</c> (32), logits shifted by one
    /// (its token shift keeps predicting the next token), mask 151665.</summary>
    public static readonly FamilySpec FastDllmV2 = Qwen2 with
    {
        Family = ModelFamily.FastDllmV2, Name = "Fast-dLLM v2", Architecture = "Fast_dLLM_QwenForCausalLM", ModelType = "Fast_dLLM_Qwen",
        Defaults = HfDefaults.Qwen2 with { MaskTokenId = 151665 },
        DefaultKind = ModelKind.BlockDiffusion, DefaultBlockSize = 32, BlockSizeField = "bd_size", ShiftLogits = true,
    };

    /// <summary>LLaDA2.0-mini / LLaDA2.1-mini (<c>LLaDA2MoeModelLM</c>, model_type "llada2_moe", inclusionAI's
    /// configuration_llada2_moe.py / modeling_llada2_moe.py): Hugging Face field names plus the LLaDA2 extras
    /// (<see cref="Llada2ConfigFields"/>); fused <c>attention.query_key_value</c>, partial rotary, optional q/k norms
    /// (<c>use_qk_norm</c>), <c>attention.dense</c> with a bias (<c>use_bias</c>), dense FFNs before
    /// <c>first_k_dense_replace</c> and the sigmoid grouped MoE after. Block diffusion: the block size is not in the
    /// published config (generate()'s <c>block_length</c> defaults to 32, as SGLang uses), nor the mask (generate()'s
    /// <c>mask_id</c> 156895); EOS defaults to generate()'s <c>eos_id</c> 156892.</summary>
    public static readonly FamilySpec Llada2 = new()
    {
        Family = ModelFamily.Llada2, Name = "LLaDA2", Architecture = "LLaDA2MoeModelLM", ModelType = "llada2_moe", Names = WeightNames.Llada2,
        Defaults = new HfDefaults(VocabSize: 30592, HiddenSize: 1024, IntermediateSize: 0, NumHiddenLayers: 24, NumAttentionHeads: 16,
            NumKeyValueHeads: 0, MaxPositionEmbeddings: 16384, RmsNormEps: 1e-5, RopeTheta: 10000.0, TieWordEmbeddings: false,
            EosTokenId: 156892, PadTokenId: 126081, MaskTokenId: 156895),
        DefaultKind = ModelKind.BlockDiffusion, DefaultBlockSize = 32, Bias = BiasRule.SeparateFields, ReadsHeadDim = true,
        QkNormOptional = true, PartialRotary = true, Router = RouterScoring.Llada2Sigmoid,
    };

    public static IReadOnlyList<FamilySpec> All { get; } = [Llada, Dream, Qwen2, Qwen3, LladaMoe, Sdar, FastDllmV2, Llada2];

    /// <summary>"LLaDAModelLM, DreamModel, Qwen2ForCausalLM and Qwen3ForCausalLM", for messages.</summary>
    public static string SupportedArchitectures =>
        string.Join(", ", All.Take(All.Count - 1).Select(f => f.Architecture)) + " and " + All[^1].Architecture;

    /// <summary>The row of <paramref name="family"/>.</summary>
    public static FamilySpec Of(ModelFamily family) => family switch // read on hot paths (ShiftLogits, QkNorm): no search
    {
        ModelFamily.Llada => Llada,
        ModelFamily.Dream => Dream,
        ModelFamily.Qwen2 => Qwen2,
        ModelFamily.Qwen3 => Qwen3,
        ModelFamily.LladaMoe => LladaMoe,
        ModelFamily.Sdar => Sdar,
        ModelFamily.FastDllmV2 => FastDllmV2,
        ModelFamily.Llada2 => Llada2,
        _ => throw new ArgumentException($"unknown model family {(int)family}"),
    };

    /// <summary>
    /// The family a parsed config.json belongs to: the first <c>architectures</c> entry that names
    /// one, else a matching <c>model_type</c>, else LLaDA (whose validation then reports an unsupported
    /// architecture, listing those supported).
    /// </summary>
    public static FamilySpec Detect(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) return Llada;
        if (root.TryGetProperty("architectures", out JsonElement a) && a.ValueKind == JsonValueKind.Array)
            foreach (JsonElement x in a.EnumerateArray())
                if (x.ValueKind == JsonValueKind.String && All.FirstOrDefault(f => f.Architecture == x.GetString()) is FamilySpec byName)
                    return byName;
        if (root.TryGetProperty("model_type", out JsonElement t) && t.ValueKind == JsonValueKind.String
            && All.FirstOrDefault(f => f.ModelType == t.GetString() || f.ModelTypeAliases.Contains(t.GetString())) is FamilySpec byType)
            return byType;
        return Llada;
    }
}
