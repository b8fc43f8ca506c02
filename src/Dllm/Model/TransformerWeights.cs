using Dllm.IO;
using Dllm.Tensors;

namespace Dllm.Model;

/// <summary>
/// The weights of one pre-norm block. Matrices are (out × in) views in their stored dtype; vectors
/// are float32. Both are views: into a checkpoint's memory map (inference) or into the trainer's
/// parameter array (training), so an optimiser step is seen by the next forward.
/// </summary>
public sealed class BlockWeights
{
    public required ReadOnlyMemory<float> AttnNorm { get; init; } // [d]
    public required MatrixView Q { get; init; }                   // [heads·hd × d]
    public required MatrixView K { get; init; }                   // [kvHeads·hd × d]
    public required MatrixView V { get; init; }                   // [kvHeads·hd × d]
    public required MatrixView AttnOut { get; init; }             // [d × heads·hd]
    public required ReadOnlyMemory<float> FfNorm { get; init; }   // [d]
    /// <summary>The dense FFN; default (0 × 0) views on a mixture-of-experts layer.</summary>
    public MatrixView FfProj { get; init; }                       // gate, [hidden × d]
    public MatrixView UpProj { get; init; }                       // [hidden × d]
    public MatrixView FfOut { get; init; }                        // [d × hidden]
    /// <summary>The mixture of experts that replaces the dense FFN on a MoE layer (LLaDA-MoE); null on a dense layer.</summary>
    public MoeWeights? Moe { get; init; }
    /// <summary>q/k/v biases when the config has include_qkv_bias (Qwen2/Dream); empty otherwise.</summary>
    public ReadOnlyMemory<float> QBias { get; init; }             // [heads·hd]
    public ReadOnlyMemory<float> KBias { get; init; }             // [kvHeads·hd]
    public ReadOnlyMemory<float> VBias { get; init; }             // [kvHeads·hd]
    /// <summary>o_proj bias when the config has one (Qwen3 attention_bias); empty otherwise.</summary>
    public ReadOnlyMemory<float> OutBias { get; init; }           // [d]
    /// <summary>Qwen3's per-head RMSNorm weights of q and k (self_attn.q_norm / k_norm); empty otherwise.</summary>
    public ReadOnlyMemory<float> QNorm { get; init; }             // [hd]
    public ReadOnlyMemory<float> KNorm { get; init; }             // [hd]
}

/// <summary>
/// All weights of a <see cref="Transformer"/>, bound by their Hugging Face names
/// (<see cref="WeightNames"/> of the config's family) and shape-checked against the config.
/// </summary>
public sealed class TransformerWeights
{
    public required MatrixView Embedding { get; init; }       // wte, [embedding_size × d]
    public required BlockWeights[] Blocks { get; init; }
    public required ReadOnlyMemory<float> FinalNorm { get; init; } // ln_f, [d]
    public required MatrixView Head { get; init; }            // ff_out (or wte when tied), [embedding_size × d]

    /// <summary>
    /// Binds every tensor the config calls for, in checkpoint order (embedding; per block attn_norm,
    /// q, k, v and their biases (or LLaDA2's fused query_key_value, sliced into row views), q/k norms, attn_out and its bias, ff_norm, gate, up, down or the layer's
    /// mixture of experts (<see cref="MoeWeights.Bind"/>); final norm; untied head), through
    /// <paramref name="matrix"/> (name, rows, cols), <paramref name="vector"/> (name, length: norm
    /// weights) and <paramref name="bias"/> (name, length). This is the one place that knows which
    /// tensors a config has: a checkpoint reader and the trainer's parameter declaration both go through it.
    /// </summary>
    public static TransformerWeights Bind(ModelConfig c, Func<string, int, int, MatrixView> matrix, Func<string, int, ReadOnlyMemory<float>> vector,
        Func<string, int, ReadOnlyMemory<float>> bias)
    {
        WeightNames n = c.Names;
        int d = c.DModel, q = c.NHeads * c.HeadDim, kv = c.KvHeads * c.HeadDim, hidden = c.MlpHiddenSize, emb = c.EmbeddingRows;
        MatrixView wte = matrix(n.Embedding, emb, d);
        var blocks = new List<BlockWeights>(); // not pre-sized: n_layers comes from a file
        for (int i = 0; i < c.NLayers; i++)
        {
            string p = string.Format(n.Block, i);
            bool moe = c.Moe?.IsMoeLayer(i) == true;
            ReadOnlyMemory<float> attnNorm = vector(p + n.AttnNorm, d);
            MatrixView wq, wk, wv;
            ReadOnlyMemory<float> bq = default, bk = default, bv = default;
            if (n.Qkv.Length > 0)
            {
                // LLaDA2 (modeling_llada2_moe.py LLaDA2MoeAttention): one query_key_value [(H + 2·Hkv)·hd × d] whose
                // output splits into q, k, v in that order; the rows are sliced as views, nothing is copied.
                MatrixView qkv = matrix(p + n.Qkv + ".weight", q + 2 * kv, d);
                (wq, wk, wv) = (Rows(qkv, 0, q), Rows(qkv, q, kv), Rows(qkv, q + kv, kv));
                if (c.IncludeQkvBias)
                {
                    ReadOnlyMemory<float> b = bias(p + n.Qkv + ".bias", q + 2 * kv);
                    (bq, bk, bv) = (Part(b, 0, q), Part(b, q, kv), Part(b, q + kv, kv));
                }
            }
            else
            {
                (wq, wk, wv) = (matrix(p + n.Q + ".weight", q, d), matrix(p + n.K + ".weight", kv, d), matrix(p + n.V + ".weight", kv, d));
                if (c.IncludeQkvBias) (bq, bk, bv) = (bias(p + n.Q + ".bias", q), bias(p + n.K + ".bias", kv), bias(p + n.V + ".bias", kv));
            }
            blocks.Add(new BlockWeights
            {
                AttnNorm = attnNorm, Q = wq, K = wk, V = wv, QBias = bq, KBias = bk, VBias = bv,
                QNorm = c.QkNorm ? vector(p + n.QNorm, c.HeadDim) : default,
                KNorm = c.QkNorm ? vector(p + n.KNorm, c.HeadDim) : default,
                AttnOut = matrix(p + n.AttnOut, d, q),
                OutBias = c.IncludeOutBias ? bias(p + n.AttnOutBias, d) : default,
                FfNorm = vector(p + n.FfNorm, d),
                FfProj = moe ? default : matrix(p + n.Gate, hidden, d),
                UpProj = moe ? default : matrix(p + n.Up, hidden, d),
                FfOut = moe ? default : matrix(p + n.Down, d, hidden),
                Moe = moe ? MoeWeights.Bind(c.Moe!, n, p, d, matrix, bias) : null,
            });
        }
        ReadOnlyMemory<float> lnF = vector(n.FinalNorm, d);
        // A declaring caller (the trainer's first pass) binds default views: their parts are default too.
        static MatrixView Rows(MatrixView m, int start, int count) => m.Data == 0 ? default : m.SliceRows(start, count);
        static ReadOnlyMemory<float> Part(ReadOnlyMemory<float> v, int start, int count) => v.IsEmpty ? default : v.Slice(start, count);
        return new TransformerWeights
        {
            Embedding = wte, Blocks = [.. blocks], FinalNorm = lnF,
            Head = c.WeightTying ? wte : matrix(n.Head, emb, d),
        };
    }

    /// <summary>Every distinct matrix a forward multiplies by as B = Wᵀ: each block's q, k, v, out and dense
    /// FFN (or its experts' router, gate, up, down and shared expert), then the head (the embedding when
    /// tied). Default (empty) views are skipped; a view listed twice is returned once.</summary>
    public IEnumerable<MatrixView> LinearWeights()
    {
        var seen = new HashSet<(nint, int, int)>();
        IEnumerable<MatrixView> All()
        {
            foreach (BlockWeights b in Blocks)
            {
                yield return b.Q; yield return b.K; yield return b.V; yield return b.AttnOut;
                yield return b.FfProj; yield return b.UpProj; yield return b.FfOut;
                if (b.Moe is { } moe)
                {
                    yield return moe.Router;
                    foreach (ExpertWeights e in moe.Shared is null ? moe.Experts : [.. moe.Experts, moe.Shared])
                    { yield return e.Gate; yield return e.Up; yield return e.Down; }
                }
            }
            yield return Head;
        }
        foreach (MatrixView m in All())
            if (m.Data != 0 && m.Rows > 0 && seen.Add((m.Data, m.Rows, m.Cols))) yield return m;
    }

    /// <summary>
    /// Binds a checkpoint's tensors: matrices stay views into its memory map (the <see cref="Checkpoint"/>
    /// must outlive this object), vectors (tiny) are widened to float32 copies. The config and the
    /// tensors must agree both ways: a missing or misshapen tensor is an error naming it, and so is a
    /// tensor the config does not call for (e.g. n_layers smaller than the blocks present would otherwise
    /// run part of the model silently). Ignored: rotary <c>inv_freq</c> buffers some converters save, and a
    /// head tensor next to <c>weight_tying</c> (some writers save the tied copy).
    /// </summary>
    /// <exception cref="InvalidDataException">A tensor is missing, misshapen or left unused.</exception>
    public static TransformerWeights Bind(ModelConfig c, Checkpoint ckpt)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        string Use(string name)
        {
            if (!ckpt.Contains(name))
                throw new InvalidDataException($"{ckpt.Directory}: tensor '{name}' that config.json calls for is not in the checkpoint");
            used.Add(name);
            return name;
        }
        TransformerWeights w = Bind(c, (name, rows, cols) => ckpt.GetMatrix(Use(name), rows, cols),
            (name, length) => ckpt.ReadSingle(Use(name), length), (name, length) => ckpt.ReadSingle(Use(name), length));
        string[] unused = ckpt.Tensors.Keys.Where(n => !used.Contains(n) && !n.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)
            && !(c.WeightTying && n == c.Names.Head)).Order(StringComparer.Ordinal).ToArray();
        if (unused.Length > 0)
            throw new InvalidDataException($"{ckpt.Directory}: {unused.Length} tensor(s) that config.json does not call for, first '{unused[0]}' (does n_layers {c.NLayers} or the layout match the checkpoint?)");
        return w;
    }
}

/// <summary>
/// Where a checkpoint keeps each tensor of the shared pre-norm block. <see cref="Block"/> is a format
/// string taking the layer index; q/k/v names get ".weight" (and ".bias" with include_qkv_bias), or, where
/// <see cref="Qkv"/> is set, the one fused projection does (q, k, v unused). The o_proj bias and the q/k norms
/// exist only in the Qwen and LLaDA2 layouts (empty names elsewhere). <see cref="ExpertBias"/> and
/// <see cref="SharedExpert"/> (a prefix) place a mixture of experts' router bias and shared expert (<see cref="MoeWeights"/>).
/// </summary>
public sealed record WeightNames(
    string Block, string AttnNorm, string Q, string K, string V, string AttnOut, string FfNorm,
    string Gate, string Up, string Down, string Embedding, string FinalNorm, string Head,
    string AttnOutBias = "", string QNorm = "", string KNorm = "", string Qkv = "",
    string ExpertBias = "mlp.expert_bias", string SharedExpert = "shared_expert.")
{
    /// <summary>LLaDA (LLaDAModelLM): model.transformer.blocks.{i}.q_proj.weight, …</summary>
    public static readonly WeightNames Llada = new("model.transformer.blocks.{0}.", "attn_norm.weight", "q_proj", "k_proj", "v_proj",
        "attn_out.weight", "ff_norm.weight", "ff_proj.weight", "up_proj.weight", "ff_out.weight",
        "model.transformer.wte.weight", "model.transformer.ln_f.weight", "model.transformer.ff_out.weight");

    /// <summary>Qwen2 / Qwen3 / Dream and LLaDA-MoE (transformers' Llama-style layout): model.layers.{i}.self_attn.q_proj.{weight,bias},
    /// self_attn.q_norm.weight (Qwen3, LLaDA-MoE's qk_layernorm), mlp.gate_proj.weight (a dense FFN; a mixture of
    /// experts' tensors are named by <see cref="MoeWeights"/>), …</summary>
    public static readonly WeightNames Qwen = new("model.layers.{0}.", "input_layernorm.weight", "self_attn.q_proj", "self_attn.k_proj",
        "self_attn.v_proj", "self_attn.o_proj.weight", "post_attention_layernorm.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
        "mlp.down_proj.weight", "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
        AttnOutBias: "self_attn.o_proj.bias", QNorm: "self_attn.q_norm.weight", KNorm: "self_attn.k_norm.weight");

    /// <summary>LLaDA2 (LLaDA2MoeModelLM, modeling_llada2_moe.py): model.word_embeddings.weight, model.layers.{i}.attention.
    /// query_key_value.{weight,bias} (fused q/k/v), attention.dense.{weight,bias}, attention.query_layernorm / key_layernorm,
    /// mlp.{gate,up,down}_proj (dense layers), mlp.gate.expert_bias and mlp.shared_experts.* (MoE layers), model.norm, lm_head.</summary>
    public static readonly WeightNames Llada2 = new("model.layers.{0}.", "input_layernorm.weight", "", "", "",
        "attention.dense.weight", "post_attention_layernorm.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
        "mlp.down_proj.weight", "model.word_embeddings.weight", "model.norm.weight", "lm_head.weight",
        AttnOutBias: "attention.dense.bias", QNorm: "attention.query_layernorm.weight", KNorm: "attention.key_layernorm.weight",
        Qkv: "attention.query_key_value", ExpertBias: "mlp.gate.expert_bias", SharedExpert: "mlp.shared_experts.");
}
