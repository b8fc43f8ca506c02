using Dllm.Model;

namespace Dllm.IO;

/// <summary>The <see cref="ModelConfig"/> a GGUF's metadata describes (<see cref="GgufModel"/>'s first half).</summary>
public static partial class GgufModel
{
    /// <summary>The llama.cpp architectures (<c>general.architecture</c>, llama-arch.cpp's names) this reader understands.</summary>
    public static readonly IReadOnlyList<string> Architectures = ["llada", "dream", "llada-moe"];

    /// <summary>
    /// The config a GGUF of one of <see cref="Architectures"/> describes, from the keys llama.cpp's converter
    /// (<c>convert_hf_to_gguf.py</c>: TextModel.set_gguf_parameters plus LLaDAModel, DreamModel, LLaDAMoEModel) writes:
    /// <c>{arch}.embedding_length</c>, <c>.block_count</c>, <c>.feed_forward_length</c>, <c>.attention.head_count</c>,
    /// <c>.attention.head_count_kv</c> (absent: = heads), <c>.attention.key_length</c> (absent: d / heads),
    /// <c>.context_length</c>, <c>.rope.freq_base</c> (absent: 10000, llama.cpp's default), <c>.attention.layer_norm_rms_epsilon</c>,
    /// the vocabulary size from <c>token_embd</c>'s rows, the special ids from <c>tokenizer.ggml.*_token_id</c>
    /// (absent: the family's defaults; e.g. LLaDA-MoE's converter always writes mask 156895), a tied head when there is no <c>output</c>.
    /// <para>Per architecture: <c>llada</c> is LLaDA (no biases); <c>dream</c> is Dream (q/k/v biases, logits shifted by
    /// one: Dream's rule, whatever <c>diffusion.shift_logits</c> says); <c>llada-moe</c> is LLaDA-MoE with every layer a
    /// mixture of <c>{arch}.expert_count</c> experts of width <c>.expert_feed_forward_length</c>, top
    /// <c>.expert_used_count</c>, softmax gating without renormalisation (llama.cpp's llada-moe graph), q/k norms when
    /// <c>blk.0.attn_q_norm</c> exists. A llada or llada-moe file with <c>diffusion.shift_logits</c> true (a <c>dllm adapt</c>ed
    /// model exported) keeps that shift.</para>
    /// </summary>
    /// <exception cref="InvalidDataException">Required metadata missing, inconsistent or out of range (one line naming the key).</exception>
    /// <exception cref="NotSupportedException">Another architecture, or a llada-moe file with gating Dllm does not run
    /// (a non-softmax <c>expert_gating_func</c>, <c>expert_weights_norm</c> true, shared experts).</exception>
    public static ModelConfig ConfigOf(GgufFile f)
    {
        string arch = f.GetString("general.architecture");
        if (!Architectures.Contains(arch))
            throw new NotSupportedException($"{f.Path}: GGUF architecture '{arch}' is not supported (Dllm reads {string.Join(", ", Architectures.Select(a => $"'{a}'"))} GGUF files; convert other models from their Hugging Face directory)");
        string a = arch + ".";
        int d = f.GetCount(a + "embedding_length"), heads = f.GetCount(a + "attention.head_count");
        if (heads == 0 || d % heads != 0) throw new InvalidDataException($"{f.Path}: {a}embedding_length {d} is not a multiple of {a}attention.head_count {heads}");
        int? keyLength = f.TryGetCount(a + "attention.key_length");
        int layers = f.GetCount(a + "block_count");
        int vocab = (int)f.Get("token_embd.weight").Shape[0];
        // Defaults for absent ids: LLaDA's config class; Dream's (Qwen2.5 tokenizer, mask 151666); LLaDA-MoE's.
        (int Eos, int? Pad, int Mask) defaults = arch switch
        {
            "dream" => (ModelConfig.NoToken, 151643, 151666),
            "llada-moe" => (50279, 1, LladaMoeConfig.DefaultMaskTokenId),
            _ => (126081, null, 126336),
        };
        int Token(string key, int fallback)
        {
            int? given = f.TryGetCount("tokenizer.ggml." + key);
            int id = given ?? fallback;
            if (id == ModelConfig.NoToken || id < vocab) return id;
            throw new InvalidDataException(given is null
                ? $"{f.Path}: tokenizer.ggml.{key} is absent and the {arch} default {id} is outside the vocabulary of {vocab} (token_embd rows)"
                : $"{f.Path}: tokenizer.ggml.{key} {id} is outside the vocabulary of {vocab} (token_embd rows)");
        }
        int eos = Token("eos_token_id", defaults.Eos);
        var c = new ModelConfig
        {
            DModel = d, NHeads = heads, NKvHeads = f.TryGetCount(a + "attention.head_count_kv") ?? heads,
            NLayers = layers, MlpHiddenSize = f.TryGetCount(a + "feed_forward_length") ?? (arch == "llada-moe" ? -1 : f.GetCount(a + "feed_forward_length")),
            ExplicitHeadDim = keyLength is int k && k != d / heads ? k : null,
            VocabSize = vocab, EmbeddingSize = vocab, MaxSequenceLength = f.TryGetCount(a + "context_length") ?? 4096,
            RopeTheta = f.GetFloat(a + "rope.freq_base", 10000), RmsNormEps = f.GetFloat(a + "attention.layer_norm_rms_epsilon", 1e-5),
            EosTokenId = eos, PadTokenId = Token("padding_token_id", defaults.Pad ?? eos), MaskTokenId = Token("mask_token_id", defaults.Mask),
            BosTokenId = f.TryGetCount("tokenizer.ggml.bos_token_id") is int bos ? Token("bos_token_id", bos) : null,
            WeightTying = !f.Contains("output.weight"),
            AdaptedShift = arch != "dream" && f.Metadata.TryGetValue("diffusion.shift_logits", out object? shift) && shift is true,
            SourcePath = f.Path,
        };
        if (arch == "dream") c = c.WithFamily(ModelFamily.Dream) with { SourcePath = f.Path };
        else if (arch == "llada-moe") c = (c with { QkNorm = f.Contains("blk.0.attn_q_norm.weight") }).WithFamily(ModelFamily.LladaMoe) with { Moe = MoeOf(f, a, layers), SourcePath = f.Path };
        try { c.Validate(); }
        catch (Exception e) when (e is ArgumentException or InvalidDataException) { throw new InvalidDataException($"{f.Path}: {e.Message}", e); }
        return c;
    }

    /// <summary>llama.cpp's llada-moe experts (llama-model.cpp: every layer <c>build_moe_ffn</c> with softmax gating, the
    /// chosen probabilities as weights, no renormalisation, no shared expert) as a <see cref="MoeConfig"/>.</summary>
    private static MoeConfig MoeOf(GgufFile f, string a, int layers)
    {
        NotSupportedException No(string what) => new($"{f.Path}: {what}; Dllm runs llama.cpp's llada-moe gating only (softmax, weights not renormalised, no shared expert)");
        if (f.TryGetCount(a + "expert_gating_func") is int g && g != 1) throw No($"{a}expert_gating_func {g} is not softmax (1)");
        if (f.Metadata.TryGetValue(a + "expert_weights_norm", out object? norm) && norm is true) throw No($"{a}expert_weights_norm is true");
        if (f.TryGetCount(a + "expert_shared_count") is int s && s > 0) throw No($"{a}expert_shared_count is {s}");
        int experts = f.GetCount(a + "expert_count"), used = f.GetCount(a + "expert_used_count");
        int hidden = f.TryGetCount(a + "expert_feed_forward_length") ?? (int)f.Get("blk.0.ffn_gate_exps.weight").Shape[^2];
        var m = MoeConfig.Create(layers, experts, used, hidden);
        m.Validate(layers, $"{f.Path} ({a}expert_count, {a}expert_used_count, {a}expert_feed_forward_length)");
        return m;
    }
}
