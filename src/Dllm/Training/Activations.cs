namespace Dllm.Training;

/// <summary>
/// Buffers of one forward pass, grown on demand. Training keeps one <see cref="Layer"/> per block
/// (everything the backward reads); inference keeps one layer and reuses it for every block.
/// Shapes for N = batch·len rows, H heads, Hkv kv heads, hd head dim, F mlp hidden, R selected rows.
/// </summary>
internal sealed class Activations
{
    internal sealed class Layer
    {
        public float[] XIn = [];    // [N × d] residual stream entering the block
        public float[] H1 = [];     // [N × d] RMSNorm(XIn)·attn_norm
        public float[] Q = [];      // [N × H·hd] after RoPE
        public float[] K = [];      // [N × Hkv·hd] after RoPE
        public float[] V = [];      // [N × Hkv·hd]
        public float[] Probs = [];  // [B × H × L × L] softmax probabilities (training only)
        public float[] Att = [];    // [N × H·hd] attention output
        public float[] XMid = [];   // [N × d] XIn + Att·Woutᵀ
        public float[] H2 = [];     // [N × d] RMSNorm(XMid)·ff_norm
        public float[] Gate = [];   // [N × F] pre-activation gate h2·Wgateᵀ
        public float[] Up = [];     // [N × F]
        public float[] Act = [];    // [N × F] SiLU(gate) ⊙ up
    }

    public Layer[] Layers = [];
    public float[] XOut = [];       // [N × d] output of the last block
    public float[] SelIn = [];      // [R × d] selected rows of XOut
    public float[] SelNorm = [];    // [R × d] RMSNorm(SelIn)·ln_f
    public float[] Lse = [];        // [R] logsumexp of the selected rows' logits
    public int[] Positions = [];    // [N] position of each row in its sequence

    // Gradients of the activations (training backward only), reused across steps so a step
    // allocates nothing: dSel, dSelIn [R × d]; dX, dH [N × d]; dAct, dGate, dUp [N × F];
    // dAtt, dQ [N × H·hd]; dK, dV [N × Hkv·hd].
    public float[] DSel = [], DSelIn = [], DX = [], DH = [], DAct = [], DGate = [], DUp = [], DAtt = [], DQ = [], DK = [], DV = [];

    public void Ensure(int layers, int n, int batch, int len, int d, int heads, int kvHeads, int hd, int hidden,
        int selected, bool saveProbs)
    {
        if (Layers.Length != layers)
        {
            Layers = new Layer[layers];
            for (int i = 0; i < layers; i++) Layers[i] = new Layer();
        }
        foreach (Layer l in Layers)
        {
            Grow(ref l.XIn, n * d); Grow(ref l.H1, n * d); Grow(ref l.XMid, n * d); Grow(ref l.H2, n * d);
            Grow(ref l.Q, n * heads * hd); Grow(ref l.Att, n * heads * hd);
            Grow(ref l.K, n * kvHeads * hd); Grow(ref l.V, n * kvHeads * hd);
            if (saveProbs) Grow(ref l.Probs, batch * heads * len * len);
            Grow(ref l.Gate, n * hidden); Grow(ref l.Up, n * hidden); Grow(ref l.Act, n * hidden);
        }
        Grow(ref XOut, n * d);
        Grow(ref SelIn, selected * d); Grow(ref SelNorm, selected * d); Grow(ref Lse, selected);
        if (Positions.Length < n) Positions = new int[n];
        for (int r = 0; r < n; r++) Positions[r] = r % len;
    }

    public void EnsureGradients(int n, int d, int heads, int kvHeads, int hd, int hidden, int selected)
    {
        Grow(ref DSel, selected * d); Grow(ref DSelIn, selected * d);
        Grow(ref DX, n * d); Grow(ref DH, n * d);
        Grow(ref DAct, n * hidden); Grow(ref DGate, n * hidden); Grow(ref DUp, n * hidden);
        Grow(ref DAtt, n * heads * hd); Grow(ref DQ, n * heads * hd);
        Grow(ref DK, n * kvHeads * hd); Grow(ref DV, n * kvHeads * hd);
    }

    private static void Grow(ref float[] a, long size)
    {
        if (size > Array.MaxLength) throw new InvalidOperationException($"activation of {size} floats is too large");
        if (a.Length < size) a = GC.AllocateUninitializedArray<float>((int)size);
    }
}
