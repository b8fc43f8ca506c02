namespace Dllm.Model;

/// <summary>
/// The buffers of one <see cref="Transformer"/> forward, grown on demand and reused. A training
/// forward keeps one <see cref="Layer"/> per block (everything the backward reads: the tape); an
/// inference forward keeps one layer, reuses it for every block and updates the residual stream in
/// place. Shapes for N = batch·rows-computed, H heads, Hkv kv heads, hd head dim, F mlp hidden,
/// R selected rows, L canvas length.
/// </summary>
internal sealed class ActivationTape
{
    internal sealed class Layer
    {
        public float[] XIn = [];    // [N × d] residual stream entering the block
        public float[] H1 = [];     // [N × d] RMSNorm(XIn)·attn_norm (inference: also RMSNorm(XMid)·ff_norm)
        public float[] Q = [];      // [N × H·hd] after bias, q/k norm and RoPE
        public float[] QRaw = [];   // [N × H·hd] before the q norm (Qwen3, tape only)
        public float[] KRaw = [];   // [N × Hkv·hd] before the k norm (Qwen3, tape only)
        public float[] K = [];      // [N × Hkv·hd] after bias, q/k norm and RoPE
        public float[] V = [];      // [N × Hkv·hd]
        public float[] Probs = [];  // [B × H × L × L] softmax probabilities (tape only)
        public float[] Att = [];    // [N × H·hd] attention output
        public float[] XMid = [];   // [N × d] XIn + Att·Woutᵀ (tape only)
        public float[] H2 = [];     // [N × d] RMSNorm(XMid)·ff_norm (tape only)
        public float[] Gate = [];   // [N × F] pre-activation gate h2·Wgateᵀ (inference: SiLU(gate) ⊙ up in place)
        public float[] Up = [];     // [N × F]
        public float[] Act = [];    // [N × F] SiLU(gate) ⊙ up (tape only)
        public MoeActivations? Moe; // a mixture-of-experts layer's routing and expert activations (grown by it)
    }

    public Layer[] Layers = [];
    public float[] XOut = [];       // [N × d] output of the last block (tape only)
    public float[] SelIn = [];      // [R × d] the selected rows of the final residual stream
    public float[] SelNorm = [];    // [R × d] RMSNorm(SelIn)·ln_f
    public int[] SelRows = [];      // [R] which computed row each selected row was read from (after the Dream shift)
    public int[] Positions = [];    // [N] position of each computed row in its sequence
    public int[] Ids = [];          // [N] token id of each computed row (-1: a continuous input vector row)
    public float[] KFull = [], VFull = []; // [B·L × Hkv·hd] cached keys/values with the window's spliced in

    private double _approvedFloats;

    /// <summary>The floats <see cref="Ensure"/> holds for these sizes (what a caller can check before building a batch).</summary>
    internal static double Floats(int layers, bool save, int n, int batch, int len, int d, int heads, int kvHeads, int hd, int hidden,
        int selected, int cachedKeyRows)
    {
        int qDim = heads * hd, kvDim = kvHeads * hd;
        double perLayer = (double)n * (2.0 * d + 2.0 * qDim + 2.0 * kvDim + 2.0 * hidden)
            + (save ? (double)n * (2.0 * d + hidden) + (double)batch * heads * len * len : 0);
        return layers * perLayer + (save ? (double)n * d : 0) + 2.0 * selected * d + 2.0 * cachedKeyRows * kvDim;
    }

    public void Ensure(int layers, bool save, int n, int batch, int len, int d, int heads, int kvHeads, int hd, int hidden,
        int selected, int cachedKeyRows)
    {
        int qDim = heads * hd, kvDim = kvHeads * hd;
        // Checked before anything grows (a huge batch or canvas is refused, not attempted).
        double floats = Floats(layers, save, n, batch, len, d, heads, kvHeads, hd, hidden, selected, cachedKeyRows);
        if (floats > _approvedFloats) // sized once per growth, not on every forward
        {
            IO.MemoryBudget.Require(4 * floats, $"the activations of a forward over {batch} × {len} tokens");
            _approvedFloats = floats;
        }
        if (Layers.Length != layers)
        {
            Layers = new Layer[layers];
            for (int i = 0; i < layers; i++) Layers[i] = new Layer();
        }
        foreach (Layer l in Layers)
        {
            Grow(ref l.XIn, (long)n * d); Grow(ref l.H1, (long)n * d);
            Grow(ref l.Q, (long)n * qDim); Grow(ref l.Att, (long)n * qDim);
            Grow(ref l.K, (long)n * kvDim); Grow(ref l.V, (long)n * kvDim);
            Grow(ref l.Gate, (long)n * hidden); Grow(ref l.Up, (long)n * hidden);
            if (save)
            {
                Grow(ref l.XMid, (long)n * d); Grow(ref l.H2, (long)n * d); Grow(ref l.Act, (long)n * hidden);
                Grow(ref l.Probs, (long)batch * heads * len * len);
            }
        }
        if (save) Grow(ref XOut, (long)n * d);
        Grow(ref SelIn, (long)selected * d); Grow(ref SelNorm, (long)selected * d);
        Grow(ref KFull, (long)cachedKeyRows * kvDim); Grow(ref VFull, (long)cachedKeyRows * kvDim);
        if (SelRows.Length < selected) SelRows = new int[selected];
        if (Positions.Length < n) { Positions = new int[n]; Ids = new int[n]; }
    }

    /// <summary>Room for layer <paramref name="layer"/>'s q and k before their norm (Qwen3's q/k norm; the backward needs the input).</summary>
    public void EnsureQkNormInputs(int layer, long qSize, long kSize)
    {
        Grow(ref Layers[layer].QRaw, qSize);
        Grow(ref Layers[layer].KRaw, kSize);
    }

    internal static void Grow(ref float[] a, long size)
    {
        if (size > Array.MaxLength) throw new InvalidOperationException($"activation of {size} floats is too large for one array");
        if (a.Length < size) a = GC.AllocateUninitializedArray<float>((int)size);
    }
}
