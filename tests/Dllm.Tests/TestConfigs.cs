using Dllm.Model;
using Dllm.Tensors;
using Dllm.Text;

namespace Dllm.Tests;

/// <summary>Small model configs for tests.</summary>
internal static class TestConfigs
{
    /// <summary>A LLaDA-family masked diffusion config; special ids default to the top of the vocabulary (mask = vocab − 1, EOS = vocab − 2).</summary>
    public static ModelConfig Tiny(int dModel, int heads, int kvHeads, int layers, int mlpHidden, int vocab, int maxSeq,
        double ropeTheta = 10000, bool tied = false, int? eos = null, int? mask = null) => new()
    {
        DModel = dModel, NHeads = heads, NKvHeads = kvHeads, NLayers = layers, MlpHiddenSize = mlpHidden,
        VocabSize = vocab, EmbeddingSize = vocab, MaxSequenceLength = maxSeq, RopeTheta = ropeTheta, WeightTying = tied,
        EosTokenId = eos ?? vocab - 2, PadTokenId = eos ?? vocab - 2, MaskTokenId = mask ?? vocab - 1,
    };

    /// <summary>A config over the byte tokenizer's vocabulary and special ids.</summary>
    public static ModelConfig Bytes(int dModel, int heads, int kvHeads, int layers, int mlpHidden, int maxSeq)
        => Tiny(dModel, heads, kvHeads, layers, mlpHidden, new ByteTokenizer().VocabSize, maxSeq, eos: ByteTokenizer.Eos, mask: ByteTokenizer.Mask);

    /// <summary>The config with the model kind whose attention is <paramref name="pattern"/>.</summary>
    public static ModelConfig With(this ModelConfig c, AttentionPattern pattern) => pattern.Kind switch
    {
        AttentionPatternKind.Causal => c.As(ModelKind.Autoregressive),
        AttentionPatternKind.BlockCausal => c.As(ModelKind.BlockDiffusion, pattern.BlockSize),
        _ => c.As(ModelKind.MaskedDiffusion),
    };
}
