using Dllm.IO;

namespace Dllm.Training;

/// <summary>
/// The size of a trainable LLaDA-architecture model (the fields of a Hugging Face LLaDA config.json
/// that shape the tensors). Kept separate from <see cref="LladaConfig"/> so training does not depend
/// on the IO layer's config record; <see cref="ToLladaConfig"/> converts.
/// </summary>
public sealed record TransformerShape
{
    public required int DModel { get; init; }
    public required int NHeads { get; init; }
    /// <summary>Key/value heads; fewer than <see cref="NHeads"/> means grouped-query attention.</summary>
    public required int NKvHeads { get; init; }
    public required int NLayers { get; init; }
    public required int MlpHidden { get; init; }
    public required int Vocab { get; init; }
    public required int MaxSeq { get; init; }
    public double RopeTheta { get; init; } = 500000;
    public double Eps { get; init; } = 1e-5;
    /// <summary>When true the LM head is wte (no separate model.transformer.ff_out.weight).</summary>
    public bool WeightTying { get; init; }

    public int HeadDim => DModel / NHeads;

    /// <exception cref="ArgumentException">A size is not positive, d_model is not a multiple of
    /// n_heads, the head dimension is odd (RoPE pairs dimensions), or n_heads is not a multiple of n_kv_heads.</exception>
    public void Validate()
    {
        if (DModel <= 0 || NHeads <= 0 || NKvHeads <= 0 || NLayers < 0 || MlpHidden <= 0 || Vocab <= 0 || MaxSeq <= 0)
            throw new ArgumentException($"non-positive size in {this}");
        if (DModel % NHeads != 0) throw new ArgumentException($"d_model {DModel} is not a multiple of n_heads {NHeads}");
        if (HeadDim % 2 != 0) throw new ArgumentException($"head dim {HeadDim} must be even for RoPE");
        if (NHeads % NKvHeads != 0) throw new ArgumentException($"n_heads {NHeads} is not a multiple of n_kv_heads {NKvHeads}");
    }

    /// <summary>The equivalent inference config (for <see cref="Dllm.Model.LladaModel"/> or a checkpoint writer).</summary>
    public LladaConfig ToLladaConfig(int eosTokenId, int maskTokenId) => new()
    {
        DModel = DModel, NHeads = NHeads, NKvHeads = NKvHeads, NLayers = NLayers, MlpHiddenSize = MlpHidden,
        VocabSize = Vocab, EmbeddingSize = Vocab, RopeTheta = RopeTheta, MaxSequenceLength = MaxSeq,
        RmsNormEps = Eps, WeightTying = WeightTying, EosTokenId = eosTokenId, PadTokenId = eosTokenId, MaskTokenId = maskTokenId,
    };

    /// <summary>The shape of an inference config.</summary>
    public static TransformerShape FromLladaConfig(LladaConfig c) => new()
    {
        DModel = c.DModel, NHeads = c.NHeads, NKvHeads = c.NKvHeads ?? c.NHeads, NLayers = c.NLayers,
        MlpHidden = c.MlpHiddenSize, Vocab = c.EmbeddingSize ?? c.VocabSize, MaxSeq = c.MaxSequenceLength,
        RopeTheta = c.RopeTheta, Eps = c.RmsNormEps, WeightTying = c.WeightTying,
    };
}
