namespace Dllm.Model;

/// <summary>
/// The buffers of one <see cref="MixtureOfExperts"/> layer, grown on demand and reused (part of an
/// <see cref="ActivationTape"/> layer). N tokens, E experts, K experts per token, F expert width, Fs
/// shared width. The n·k assignments are grouped by expert (<see cref="Offsets"/>); with the tape
/// (training) every expert's rows are kept, for the backward; without it (inference) the per-expert
/// buffers hold one expert at a time (at most N rows: a token picks an expert at most once).
/// </summary>
internal sealed class MoeActivations
{
    public float[] Probs = [];      // [N × E] softmax of the router logits (LLaDA2 router: their sigmoid)
    public int[] Selected = [];     // [N × K] chosen experts, by descending score
    public float[] Weights = [];    // [N × K] their weights (score, plus the expert bias)
    public int[] Offsets = [];      // [E + 1] expert e owns assignment rows [Offsets[e], Offsets[e+1])
    public int[] Tokens = [];       // [N·K] token of each assignment row
    public int[] Slots = [];        // [N·K] its slot: Selected[Tokens[r]·K + Slots[r]] is the row's expert
    public float[] Input = [];      // [rows × d] the gathered FFN inputs
    public float[] Gate = [];       // [rows × F] pre-activation gate (inference: SiLU(gate) ⊙ up in place)
    public float[] Up = [];         // [rows × F]
    public float[] Act = [];        // [rows × F] SiLU(gate) ⊙ up (tape only)
    public float[] Out = [];        // [rows × d] expert outputs before weighting (the router's gradient reads them)
    public float[] SharedGate = [], SharedUp = [], SharedAct = []; // [N × Fs] (SharedAct: tape only)

    /// <summary>Grows the buffers for <paramref name="n"/> tokens; rows = n·k with <paramref name="save"/>, n without.</summary>
    public void Ensure(int n, int d, MoeConfig m, bool save)
    {
        long nk = (long)n * m.TopK, rows = save ? nk : n;
        ActivationTape.Grow(ref Probs, (long)n * m.Experts);
        ActivationTape.Grow(ref Weights, nk);
        if (Selected.Length < nk) { Selected = new int[nk]; Tokens = new int[nk]; Slots = new int[nk]; }
        if (Offsets.Length < m.Experts + 1) Offsets = new int[m.Experts + 1];
        ActivationTape.Grow(ref Input, rows * d);
        ActivationTape.Grow(ref Out, rows * d);
        ActivationTape.Grow(ref Gate, rows * m.ExpertHidden);
        ActivationTape.Grow(ref Up, rows * m.ExpertHidden);
        if (save) ActivationTape.Grow(ref Act, rows * m.ExpertHidden);
        if (m.SharedExpertHidden > 0)
        {
            ActivationTape.Grow(ref SharedGate, (long)n * m.SharedExpertHidden);
            ActivationTape.Grow(ref SharedUp, (long)n * m.SharedExpertHidden);
            if (save) ActivationTape.Grow(ref SharedAct, (long)n * m.SharedExpertHidden);
        }
    }
}
