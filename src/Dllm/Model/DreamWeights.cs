using Dllm.IO;
using Dllm.Tensors;

namespace Dllm.Model;

/// <summary>
/// Binds a Dream (Qwen2-layout) checkpoint to the shared block weights: Hugging Face names
/// <c>model.layers.{i}.self_attn.{q,k,v,o}_proj</c>, <c>mlp.{gate,up,down}_proj</c>,
/// <c>input_layernorm</c>, <c>post_attention_layernorm</c>, <c>model.norm</c>, <c>lm_head</c>,
/// with q/k/v biases.
/// </summary>
public static class DreamWeights
{
    public static LladaWeights Bind(LladaConfig c, Checkpoint ckpt)
    {
        int d = c.DModel, hd = c.HeadDim, heads = c.NHeads, kv = c.NKvHeads ?? c.NHeads, hidden = c.MlpHiddenSize, vocab = c.VocabSize;
        var blocks = new LladaBlockWeights[c.NLayers];
        for (int i = 0; i < c.NLayers; i++)
        {
            string p = $"model.layers.{i}.";
            blocks[i] = new LladaBlockWeights
            {
                AttnNorm = ckpt.ReadSingle(p + "input_layernorm.weight", d),
                Q = ckpt.GetMatrix(p + "self_attn.q_proj.weight", heads * hd, d),
                K = ckpt.GetMatrix(p + "self_attn.k_proj.weight", kv * hd, d),
                V = ckpt.GetMatrix(p + "self_attn.v_proj.weight", kv * hd, d),
                QBias = ckpt.ReadSingle(p + "self_attn.q_proj.bias", heads * hd),
                KBias = ckpt.ReadSingle(p + "self_attn.k_proj.bias", kv * hd),
                VBias = ckpt.ReadSingle(p + "self_attn.v_proj.bias", kv * hd),
                AttnOut = ckpt.GetMatrix(p + "self_attn.o_proj.weight", d, heads * hd),
                FfNorm = ckpt.ReadSingle(p + "post_attention_layernorm.weight", d),
                FfProj = ckpt.GetMatrix(p + "mlp.gate_proj.weight", hidden, d),
                UpProj = ckpt.GetMatrix(p + "mlp.up_proj.weight", hidden, d),
                FfOut = ckpt.GetMatrix(p + "mlp.down_proj.weight", d, hidden),
            };
        }
        MatrixView embed = ckpt.GetMatrix("model.embed_tokens.weight", vocab, d);
        return new LladaWeights
        {
            Embedding = embed,
            Blocks = blocks,
            FinalNorm = ckpt.ReadSingle("model.norm.weight", d),
            Head = c.WeightTying ? embed : ckpt.GetMatrix("lm_head.weight", vocab, d),
        };
    }
}
