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

    private const string Prefix = "model.transformer.";

    /// <summary>Binds and checks every tensor the config calls for; a missing or misshapen tensor is an error naming it.</summary>
    public static LladaWeights Bind(LladaConfig c, Checkpoint ckpt)
    {
        int d = c.DModel, hd = c.HeadDim, heads = c.NHeads, kv = c.NKvHeads ?? c.NHeads;
        int hidden = c.MlpHiddenSize, emb = c.EmbeddingSize ?? c.VocabSize;
        var blocks = new LladaBlockWeights[c.NLayers];
        for (int i = 0; i < c.NLayers; i++)
        {
            string p = $"{Prefix}blocks.{i}.";
            blocks[i] = new LladaBlockWeights
            {
                AttnNorm = ckpt.ReadSingle(p + "attn_norm.weight", d),
                Q = ckpt.GetMatrix(p + "q_proj.weight", heads * hd, d),
                K = ckpt.GetMatrix(p + "k_proj.weight", kv * hd, d),
                V = ckpt.GetMatrix(p + "v_proj.weight", kv * hd, d),
                AttnOut = ckpt.GetMatrix(p + "attn_out.weight", d, heads * hd),
                FfNorm = ckpt.ReadSingle(p + "ff_norm.weight", d),
                FfProj = ckpt.GetMatrix(p + "ff_proj.weight", hidden, d),
                UpProj = ckpt.GetMatrix(p + "up_proj.weight", hidden, d),
                FfOut = ckpt.GetMatrix(p + "ff_out.weight", d, hidden),
            };
        }
        MatrixView wte = ckpt.GetMatrix(Prefix + "wte.weight", emb, d);
        MatrixView head;
        if (c.WeightTying) head = wte;
        else head = ckpt.GetMatrix(Prefix + "ff_out.weight", emb, d);
        return new LladaWeights
        {
            Embedding = wte,
            Blocks = blocks,
            FinalNorm = ckpt.ReadSingle(Prefix + "ln_f.weight", d),
            Head = head,
        };
    }
}
