using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>
/// What an objective hands the model: the (noised) input canvases and the weighted targets.
/// The model's loss is Σ_r Weights[r] · CE(logits at flat row Rows[r], Targets[r]); objectives fold
/// their normalisation (1/p, 1/(B·L), …) into the weights.
/// </summary>
/// <param name="Tokens">[Batch × Length] input ids (mask ids already substituted).</param>
/// <param name="Rows">Flat row indices b·Length + i of the predicted positions.</param>
/// <param name="Targets">The clean token id for each row.</param>
/// <param name="Weights">Loss weight for each row.</param>
/// <param name="Pattern">Attention pattern the model must use.</param>
public sealed record TrainingBatch(int[] Tokens, int Batch, int Length, int[] Rows, int[] Targets, float[] Weights,
    AttentionPattern Pattern)
{
    /// <summary>Checks lengths and ranges; throws <see cref="ArgumentException"/> naming the fault.</summary>
    public void Validate(int vocab, int maxSeq)
    {
        if (Batch <= 0 || Length <= 0) throw new ArgumentException($"empty batch {Batch}x{Length}");
        // A BD3 pair canvas holds two halves at the same positions: the model sees sequences of Half.
        int positions = Pattern.Kind == AttentionPatternKind.BlockDiffusionPair ? Pattern.Half : Length;
        if (Pattern.Kind == AttentionPatternKind.BlockDiffusionPair && Length != 2 * Pattern.Half)
            throw new ArgumentException($"a block diffusion pair canvas has 2 × {Pattern.Half} rows, found {Length}");
        if (positions > maxSeq) throw new ArgumentException($"length {positions} exceeds max sequence length {maxSeq}");
        if (Tokens.Length != Batch * Length) throw new ArgumentException($"tokens has {Tokens.Length} ids, expected {Batch * Length}");
        if (Rows.Length != Targets.Length || Rows.Length != Weights.Length)
            throw new ArgumentException($"rows ({Rows.Length}), targets ({Targets.Length}) and weights ({Weights.Length}) differ in length");
        foreach (int t in Tokens) if ((uint)t >= (uint)vocab) throw new ArgumentException($"token id {t} outside [0, {vocab})");
        foreach (int t in Targets) if ((uint)t >= (uint)vocab) throw new ArgumentException($"target id {t} outside [0, {vocab})");
        foreach (int r in Rows) if ((uint)r >= (uint)Tokens.Length) throw new ArgumentException($"row {r} outside [0, {Tokens.Length})");
    }
}
