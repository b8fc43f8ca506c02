using System.Text.Json;
using System.Text.Json.Nodes;

namespace Dllm.Model;

/// <summary>
/// The Hugging Face <c>config.json</c> dialect of the Qwen2 lineage: Qwen2 / Qwen2.5
/// (<c>Qwen2ForCausalLM</c>), Qwen3 (<c>Qwen3ForCausalLM</c>) and Dream (<c>DreamModel</c>), their block
/// diffusion descendants SDAR and Fast-dLLM v2, and LLaDA2 (<c>LLaDA2MoeModelLM</c>, whose extra fields
/// <see cref="Llada2ConfigFields"/> reads and writes). Field
/// names, defaults and meanings follow transformers' configuration_qwen2.py / configuration_qwen3.py
/// (and modeling_qwen2.py / modeling_qwen3.py where the model reads a field) and Dream's
/// configuration_dream.py; per-family differences come from the <see cref="FamilySpec"/> row.
/// </summary>
/// <remarks>
/// <para>Read: hidden_size, intermediate_size, num_attention_heads, num_key_value_heads (absent → the
/// class default 32, null → num_attention_heads), num_hidden_layers, head_dim (Qwen2/Qwen3 only; absent
/// → Qwen3's 128 or hidden / heads for Qwen2; null → hidden / heads), vocab_size (also the embedding
/// rows), max_position_embeddings, rope_theta (or <c>rope_parameters.rope_theta</c>, the newer
/// spelling), rms_norm_eps, tie_word_embeddings, hidden_act (silu only), attention_bias (Qwen3),
/// bos/eos/pad/mask_token_id (absent → the class default, null → none: <see cref="ModelConfig.NoToken"/>;
/// a list of EOS ids keeps its first), and Dllm's model_kind / attention / block_size (absent → the
/// family's kind: autoregressive and causal for Qwen, masked diffusion for Dream, block diffusion for SDAR and
/// Fast-dLLM v2, whose block size is their <see cref="FamilySpec.BlockSizeField"/> or, absent, the family's default).</para>
/// <para>Refused with <see cref="InvalidDataException"/> naming the file and field: a wrongly typed
/// field, a model_type of another family, hidden_act other than silu, rope_scaling or rope_parameters
/// of a type other than "default", partial_rotary_factor other than 1 (but for LLaDA2), and (Qwen2/Qwen3) a sliding
/// window that some layer would use (use_sliding_window with layers ≥ max_window_layers, or
/// "sliding_attention" in layer_types).</para>
/// <para>Every other field (torch_dtype, auto_map, use_sliding_window, rope_scaling, ...) is kept in
/// <see cref="ModelConfig.Extra"/> and written back as it was; <see cref="Write"/> emits the keys
/// sorted, as transformers does.</para>
/// </remarks>
public static class HfConfigDialect
{
    /// <summary>LLaDA field names (as <see cref="ModelConfig.Validate"/> names them) in this dialect.</summary>
    private static readonly Dictionary<string, string> Renamed = new()
    {
        ["d_model"] = "hidden_size", ["n_heads"] = "num_attention_heads", ["n_kv_heads"] = "num_key_value_heads",
        ["n_layers"] = "num_hidden_layers", ["mlp_hidden_size"] = "intermediate_size", ["max_sequence_length"] = "max_position_embeddings",
        ["activation_type"] = "hidden_act", ["weight_tying"] = "tie_word_embeddings", ["embedding_size"] = "vocab_size",
    };

    /// <summary>The name this dialect gives the field LLaDA's config calls <paramref name="lladaField"/>.</summary>
    public static string FieldName(string lladaField) => Renamed.GetValueOrDefault(lladaField, lladaField);

    /// <summary>Reads a parsed config.json of a Hugging Face family (not yet validated).</summary>
    /// <exception cref="InvalidDataException">See the remarks; the message names <paramref name="path"/> and the field.</exception>
    public static ModelConfig Read(FamilySpec spec, string path, JsonElement root)
    {
        HfDefaults def = spec.Defaults ?? throw new ArgumentException($"{spec.Name} does not use the Hugging Face dialect");
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: config JSON is not an object");
        var f = new Fields(path, root);

        string? modelType = f.String("model_type");
        if (modelType is not null && modelType != spec.ModelType)
            throw new InvalidDataException($"model_type '{modelType}' in {path} does not match architecture {spec.Architecture} (model_type '{spec.ModelType}')");
        string act = f.String("hidden_act") ?? "silu";
        if (act != "silu") throw new InvalidDataException($"unsupported hidden_act '{act}' in {path}: Dllm supports silu");

        int hidden = f.Int("hidden_size") ?? def.HiddenSize, heads = f.Int("num_attention_heads") ?? def.NumAttentionHeads;
        int layers = f.Int("num_hidden_layers") ?? def.NumHiddenLayers;
        int kvHeads = f.Has("num_key_value_heads") ? f.Int("num_key_value_heads") ?? heads : def.NumKeyValueHeads;
        int? headDim = null;
        if (spec.ReadsHeadDim)
        {
            if (f.Has("head_dim")) headDim = f.Int("head_dim");
            else headDim = def.HeadDim;
            f.Consume("head_dim");
        }
        double theta = RopeTheta(f, def, path);
        CheckSlidingWindow(f, spec, layers, path);
        if (!spec.PartialRotary && f.Number("partial_rotary_factor", keep: true) is double prf && prf != 1.0)
            throw new InvalidDataException($"partial_rotary_factor {prf} in {path} is unsupported: Dllm rotates the whole head");
        bool attentionBias = spec.Bias == BiasRule.AttentionBias && (f.Bool("attention_bias") ?? false);

        int vocab = f.Int("vocab_size") ?? def.VocabSize;
        var c = new ModelConfig
        {
            Family = spec.Family, SourcePath = path,
            Architectures = f.StringArray("architectures") ?? [spec.Architecture], ModelType = modelType ?? spec.ModelType,
            DModel = hidden, NHeads = heads, NKvHeads = kvHeads, NLayers = layers, ExplicitHeadDim = headDim,
            MlpHiddenSize = f.Int("intermediate_size") ?? def.IntermediateSize, VocabSize = vocab, EmbeddingSize = vocab,
            MaxSequenceLength = f.Int("max_position_embeddings") ?? def.MaxPositionEmbeddings,
            RopeTheta = theta, RmsNormEps = f.Number("rms_norm_eps") ?? def.RmsNormEps, ActivationType = act,
            WeightTying = f.Bool("tie_word_embeddings") ?? def.TieWordEmbeddings,
            IncludeQkvBias = spec.Bias == BiasRule.QkvAlways || attentionBias, IncludeOutBias = attentionBias, QkNorm = spec.QkNorm,
            BosTokenId = f.Id("bos_token_id", def.BosTokenId),
            EosTokenId = f.Id("eos_token_id", def.EosTokenId) ?? ModelConfig.NoToken,
            PadTokenId = f.Id("pad_token_id", def.PadTokenId) ?? ModelConfig.NoToken,
            MaskTokenId = f.Id("mask_token_id", def.MaskTokenId) ?? ModelConfig.NoToken,
        };
        if (spec.Bias == BiasRule.AttentionBias) f.Consume("attention_bias");
        ModelKind kind = f.Enum<ModelKind>("model_kind") ?? spec.DefaultKind;
        int blockSize = f.Int(spec.BlockSizeField) ?? (kind == ModelKind.BlockDiffusion ? spec.DefaultBlockSize : 0);
        c = c.As(kind, blockSize) with { BlockSize = blockSize }; // a stray block_size fails validation
        if (f.Enum<AttentionKind>("attention") is AttentionKind attention) c = c with { Attention = attention };
        if (f.Bool("shift_logits") is bool shifted) c = c with { AdaptedShift = shifted }; // Dllm's field (dllm adapt)
        if (spec.Family == ModelFamily.Llada2) c = Llada2ConfigFields.Read(f, c, path);
        return c with { Extra = f.Rest() };
    }

    /// <summary>rope_theta, or rope_parameters.rope_theta; refuses any RoPE type but "default".</summary>
    private static double RopeTheta(Fields f, HfDefaults def, string path)
    {
        double? top = f.Number("rope_theta"), nested = null;
        foreach (string field in new[] { "rope_scaling", "rope_parameters" })
        {
            if (!f.Has(field) || f[field].ValueKind == JsonValueKind.Null) continue;
            JsonElement e = f[field];
            if (e.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{field} in {path} must be an object or null");
            string type = e.TryGetProperty("rope_type", out JsonElement t) || e.TryGetProperty("type", out t)
                ? t.ValueKind == JsonValueKind.String ? t.GetString()! : t.GetRawText()
                : "default";
            if (type != "default")
                throw new InvalidDataException($"{field} type '{type}' in {path} is unsupported: Dllm implements plain RoPE (rope_type \"default\")");
            if (field == "rope_parameters" && e.TryGetProperty("rope_theta", out JsonElement rt))
                nested = rt.ValueKind == JsonValueKind.Number ? rt.GetDouble()
                    : throw new InvalidDataException($"rope_parameters.rope_theta in {path} must be a number");
        }
        if (top is double a && nested is double b && a != b)
            throw new InvalidDataException($"rope_theta {a} and rope_parameters.rope_theta {b} in {path} disagree");
        return nested ?? top ?? def.RopeTheta;
    }

    /// <summary>Refuses a sliding window some layer would use (configuration_qwen2.py layer_types: layers ≥ max_window_layers).</summary>
    private static void CheckSlidingWindow(Fields f, FamilySpec spec, int layers, string path)
    {
        if (!spec.SlidingWindowApplies) return;
        if (f.StringArray("layer_types", keep: true) is string[] types)
        {
            string? other = types.FirstOrDefault(t => t != "full_attention");
            if (other is not null)
                throw new InvalidDataException($"layer_types entry '{other}' in {path} is unsupported: Dllm attends to the whole sequence (full_attention)");
            return;
        }
        bool use = f.Bool("use_sliding_window", keep: true) ?? false;
        int? window = f.Has("sliding_window") ? f.Int("sliding_window", keep: true) : 4096;
        int firstSliding = f.Int("max_window_layers", keep: true) ?? 28;
        if (use && window is int w && firstSliding < layers)
            throw new InvalidDataException($"use_sliding_window true in {path} is unsupported: layers {firstSliding}..{layers - 1} would attend to a {w}-token window, Dllm attends to the whole sequence");
    }

    /// <summary>The config as this dialect's config.json: <see cref="ModelConfig.Extra"/> plus the modelled fields, keys sorted.</summary>
    /// <exception cref="ArgumentException">The config's family does not speak this dialect, or its embedding is padded past vocab_size
    /// (no such field here); for LLaDA2, experts its fields cannot express (see <see cref="Llada2ConfigFields.Write"/>).</exception>
    public static string Write(ModelConfig c)
    {
        FamilySpec spec = c.Spec;
        HfDefaults def = spec.Defaults ?? throw new ArgumentException($"a {spec.Name} config is not written in the Hugging Face dialect");
        if (c.EmbeddingRows != c.VocabSize)
            throw new ArgumentException($"{spec.Name} configs have no embedding_size; {c.EmbeddingRows} rows differ from vocab_size {c.VocabSize}");
        var o = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (k, v) in c.Extra ?? []) o[k] = JsonNode.Parse(v.GetRawText());

        o["architectures"] = new JsonArray((c.Architectures ?? [spec.Architecture]).Select(a => (JsonNode?)JsonValue.Create(a)).ToArray());
        o["model_type"] = c.ModelType ?? spec.ModelType;
        o["hidden_size"] = c.DModel;
        o["intermediate_size"] = c.MlpHiddenSize;
        o["num_attention_heads"] = c.NHeads;
        o["num_key_value_heads"] = c.KvHeads;
        o["num_hidden_layers"] = c.NLayers;
        if (spec.ReadsHeadDim && (c.ExplicitHeadDim is not null || def.HeadDim is not null)) o["head_dim"] = c.HeadDim;
        o["vocab_size"] = c.VocabSize;
        o["max_position_embeddings"] = c.MaxSequenceLength;
        if (o.TryGetValue("rope_parameters", out JsonNode? rp) && rp is JsonObject rpo) rpo["rope_theta"] = c.RopeTheta;
        else o["rope_theta"] = c.RopeTheta;
        o["rms_norm_eps"] = c.RmsNormEps;
        o["tie_word_embeddings"] = c.WeightTying;
        o["hidden_act"] = c.ActivationType;
        if (spec.Bias == BiasRule.AttentionBias) o["attention_bias"] = c.IncludeOutBias;
        if (c.BosTokenId is int bos) o["bos_token_id"] = bos;
        if (c.EosTokenId != ModelConfig.NoToken) o["eos_token_id"] = c.EosTokenId;
        if (c.PadTokenId != ModelConfig.NoToken) o["pad_token_id"] = c.PadTokenId;
        if (c.MaskTokenId != ModelConfig.NoToken) o["mask_token_id"] = c.MaskTokenId;
        bool familyBlocks = spec.DefaultKind == ModelKind.BlockDiffusion;
        ModelConfig plain = c.As(spec.DefaultKind, c.BlockSize);
        if (c.Kind != plain.Kind || c.Attention != plain.Attention || (!familyBlocks && c.BlockSize != 0))
        {
            o["model_kind"] = c.KindName;
            o["attention"] = JsonSerializer.SerializeToNode(c.Attention, ModelConfig.EnumOptions);
        }
        if (c.BlockSize != 0) o[spec.BlockSizeField] = c.BlockSize;
        if (c.AdaptedShift) o["shift_logits"] = true;
        if (spec.Family == ModelFamily.Llada2) Llada2ConfigFields.Write(c, o);
        var json = new JsonObject();
        foreach (var (k, v) in o) json[k] = v;
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Typed access to the root object's fields; what is read is consumed, <see cref="Rest"/> is the remainder.</summary>
    internal sealed class Fields(string path, JsonElement root)
    {
        private readonly HashSet<string> _consumed = [];

        public bool Has(string name) => root.TryGetProperty(name, out _);
        public JsonElement this[string name] => root.GetProperty(name);
        public void Consume(string name) => _consumed.Add(name);

        private JsonElement? Get(string name, bool keep)
        {
            if (!keep) _consumed.Add(name);
            return root.TryGetProperty(name, out JsonElement e) && e.ValueKind != JsonValueKind.Null ? e : null;
        }

        private InvalidDataException Bad(string name, string what, JsonElement e)
            => new($"{name} in {path} must be {what}, found {e.GetRawText()}");

        public int? Int(string name, bool keep = false)
            => Get(name, keep) is JsonElement e ? e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v : throw Bad(name, "an integer", e) : null;

        public double? Number(string name, bool keep = false)
            => Get(name, keep) is JsonElement e ? e.ValueKind == JsonValueKind.Number ? e.GetDouble() : throw Bad(name, "a number", e) : null;

        public bool? Bool(string name, bool keep = false)
            => Get(name, keep) is JsonElement e ? e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.GetBoolean() : throw Bad(name, "true or false", e) : null;

        public string? String(string name, bool keep = false)
            => Get(name, keep) is JsonElement e ? e.ValueKind == JsonValueKind.String ? e.GetString() : throw Bad(name, "a string", e) : null;

        public string[]? StringArray(string name, bool keep = false)
            => Get(name, keep) is JsonElement e
                ? e.ValueKind == JsonValueKind.Array && e.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String)
                    ? e.EnumerateArray().Select(x => x.GetString()!).ToArray() : throw Bad(name, "a list of strings", e)
                : null;

        /// <summary>A token id: absent → <paramref name="absent"/>, null → none, an integer, or a list of integers (its first).</summary>
        public int? Id(string name, int? absent)
        {
            if (!Has(name)) { _consumed.Add(name); return absent; }
            if (Get(name, keep: false) is not JsonElement e) return null;
            if (e.ValueKind == JsonValueKind.Array)
            {
                JsonElement[] ids = e.EnumerateArray().ToArray();
                if (ids.Length > 0 && ids.All(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out _))) return ids[0].GetInt32();
                throw Bad(name, "an integer or a non-empty list of integers", e);
            }
            return e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v : throw Bad(name, "an integer", e);
        }

        /// <summary>A Dllm enum field spelled as config.json spells it ("masked_diffusion").</summary>
        public T? Enum<T>(string name) where T : struct, System.Enum
        {
            if (Get(name, keep: false) is not JsonElement e) return null;
            try { return JsonSerializer.Deserialize<T>(e.GetRawText(), ModelConfig.EnumOptions); }
            catch (JsonException) { throw Bad(name, "one of " + string.Join(", ", System.Enum.GetValues<T>().Select(v => JsonSerializer.Serialize(v, ModelConfig.EnumOptions))), e); }
        }

        /// <summary>Every field not consumed, in file order.</summary>
        public Dictionary<string, JsonElement>? Rest()
        {
            var rest = new Dictionary<string, JsonElement>();
            foreach (JsonProperty p in root.EnumerateObject())
                if (!_consumed.Contains(p.Name)) rest[p.Name] = p.Value.Clone();
            return rest.Count == 0 ? null : rest;
        }
    }
}
