using Dllm.IO;
using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>
/// A checkpoint trained with an autoregressive objective ("ar" or "ar-sft"), seen through the
/// <see cref="IDenoisingModel"/> interface with causal attention: the logits at position i depend on
/// tokens 0..i only, so the logits at the last position are p(next token | canvas). It reuses
/// <see cref="TrainableLlada"/>'s forward (same kernels); only the attention pattern differs from an MDM.
/// </summary>
public sealed class CausalModel : IDenoisingModel
{
    public TrainableLlada Network { get; }
    public int VocabSize => Network.VocabSize;
    public int MaxSequenceLength => Network.MaxSequenceLength;

    public CausalModel(TrainableLlada network) => Network = network ?? throw new ArgumentNullException(nameof(network));

    /// <inheritdoc/>
    public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default)
        => Network.Logits(tokens, batch, length, positions, logits, AttentionPattern.Causal, keyMask);

    /// <summary>Loads the weights of a checkpoint directory (config.json + model.safetensors).</summary>
    /// <exception cref="InvalidDataException">The checkpoint was not trained autoregressively (its
    /// trainer_state.json says otherwise), or a tensor is missing or has another size.</exception>
    public static CausalModel Load(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"model directory '{dir}' does not exist");
        string objective = TrainingCheckpoint.ObjectiveOf(dir);
        if (!TrainingCheckpoint.IsAutoregressive(objective))
            throw new InvalidDataException($"'{dir}' was trained with objective {objective}, not an autoregressive one (ar or ar-sft)");
        LladaConfig c = LladaModel.LoadConfig(Path.Combine(dir, "config.json"), out bool dream);
        if (dream) throw new NotSupportedException("Dream checkpoints are not autoregressive checkpoints of this trainer");
        var net = new TrainableLlada(TransformerShape.FromLladaConfig(c));
        TrainingCheckpoint.LoadWeights(dir, net);
        return new CausalModel(net);
    }
}
