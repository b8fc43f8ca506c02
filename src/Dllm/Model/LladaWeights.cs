using Dllm.IO;
using Dllm.Tensors;

namespace Dllm.Model;

/// <summary>The weights of one LLaDA block. Matrices are (out × in) views in their stored dtype.</summary>
public sealed class LladaBlockWeights
{
    public required float[] AttnNorm { get; init; }   // [d]
    public required MatrixView Q { get; init; }       // [heads·hd × d]
    public required MatrixView K { get; init; }       // [kvHeads·hd × d]
    public required MatrixView V { get; init; }       // [kvHeads·hd × d]
    public required MatrixView AttnOut { get; init; } // [d × heads·hd]
    public required float[] FfNorm { get; init; }     // [d]
    public required MatrixView FfProj { get; init; }  // gate, [hidden × d]
    public required MatrixView UpProj { get; init; }  // [hidden × d]
    public required MatrixView FfOut { get; init; }   // [d × hidden]
    /// <summary>Optional q/k/v biases (Qwen2/Dream layout); null for LLaDA (include_qkv_bias false).</summary>
    public float[]? QBias { get; init; }              // [heads·hd]
    public float[]? KBias { get; init; }              // [kvHeads·hd]
    public float[]? VBias { get; init; }              // [kvHeads·hd]
}

/// <summary>
/// All weights of a LLaDA model, bound by their Hugging Face names
/// (<c>model.transformer.blocks.{i}.q_proj.weight</c>, …) and shape-checked against the config.
/// Matrices are views into the checkpoint's memory map, so the <see cref="Checkpoint"/> must
/// outlive this object. Norm weights (tiny) are widened to float32 copies.
/// </summary>
public sealed class LladaWeights
{
    public required MatrixView Embedding { get; init; }   // wte, [embedding_size × d]
    public required LladaBlockWeights[] Blocks { get; init; }
    public required float[] FinalNorm { get; init; }      // ln_f, [d]
    public required MatrixView Head { get; init; }        // ff_out (or wte when tied), [embedding_size × d]

    /// <summary>Binds and checks every tensor the config calls for, under LLaDA's names; a missing or
    /// misshapen tensor is an error naming it.</summary>
    public static LladaWeights Bind(LladaConfig c, Checkpoint ckpt) => Bind(c, ckpt, WeightNames.Llada);

    /// <summary>Binds under the given naming scheme (LLaDA or Dream/Qwen2); biases are read when the scheme names them.</summary>
    public static LladaWeights Bind(LladaConfig c, Checkpoint ckpt, WeightNames n)
    {
        int d = c.DModel, hd = c.HeadDim, heads = c.NHeads, kv = c.NKvHeads ?? c.NHeads;
        int hidden = c.MlpHiddenSize, emb = c.EmbeddingSize ?? c.VocabSize;
        var blocks = new LladaBlockWeights[c.NLayers];
        for (int i = 0; i < c.NLayers; i++)
        {
            string p = string.Format(n.Block, i);
            blocks[i] = new LladaBlockWeights
            {
                AttnNorm = ckpt.ReadSingle(p + n.AttnNorm, d),
                Q = ckpt.GetMatrix(p + n.Q + ".weight", heads * hd, d),
                K = ckpt.GetMatrix(p + n.K + ".weight", kv * hd, d),
                V = ckpt.GetMatrix(p + n.V + ".weight", kv * hd, d),
                QBias = n.HasQkvBias ? ckpt.ReadSingle(p + n.Q + ".bias", heads * hd) : null,
                KBias = n.HasQkvBias ? ckpt.ReadSingle(p + n.K + ".bias", kv * hd) : null,
                VBias = n.HasQkvBias ? ckpt.ReadSingle(p + n.V + ".bias", kv * hd) : null,
                AttnOut = ckpt.GetMatrix(p + n.AttnOut, d, heads * hd),
                FfNorm = ckpt.ReadSingle(p + n.FfNorm, d),
                FfProj = ckpt.GetMatrix(p + n.Gate, hidden, d),
                UpProj = ckpt.GetMatrix(p + n.Up, hidden, d),
                FfOut = ckpt.GetMatrix(p + n.Down, d, hidden),
            };
        }
        MatrixView wte = ckpt.GetMatrix(n.Embedding, emb, d);
        return new LladaWeights
        {
            Embedding = wte,
            Blocks = blocks,
            FinalNorm = ckpt.ReadSingle(n.FinalNorm, d),
            Head = c.WeightTying ? wte : ckpt.GetMatrix(n.Head, emb, d),
        };
    }
}

/// <summary>
/// Where a checkpoint keeps each tensor of the shared pre-norm block. <see cref="Block"/> is a format
/// string taking the layer index; q/k/v names get ".weight" (and ".bias" when <see cref="HasQkvBias"/>).
/// </summary>
public sealed record WeightNames(
    string Block, string AttnNorm, string Q, string K, string V, string AttnOut, string FfNorm,
    string Gate, string Up, string Down, string Embedding, string FinalNorm, string Head, bool HasQkvBias)
{
    /// <summary>LLaDA (LLaDAModelLM): model.transformer.blocks.{i}.q_proj.weight, …</summary>
    public static readonly WeightNames Llada = new("model.transformer.blocks.{0}.", "attn_norm.weight", "q_proj", "k_proj", "v_proj",
        "attn_out.weight", "ff_norm.weight", "ff_proj.weight", "up_proj.weight", "ff_out.weight",
        "model.transformer.wte.weight", "model.transformer.ln_f.weight", "model.transformer.ff_out.weight", HasQkvBias: false);

    /// <summary>Dream / Qwen2: model.layers.{i}.self_attn.q_proj.{weight,bias}, mlp.gate_proj.weight, …</summary>
    public static readonly WeightNames Dream = new("model.layers.{0}.", "input_layernorm.weight", "self_attn.q_proj", "self_attn.k_proj",
        "self_attn.v_proj", "self_attn.o_proj.weight", "post_attention_layernorm.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
        "mlp.down_proj.weight", "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight", HasQkvBias: true);
}
