namespace Dllm.Tensors;

/// <summary>Which keys a query may see, apart from the key padding mask.</summary>
public enum AttentionPatternKind
{
    /// <summary>Every query sees every key (LLaDA / masked diffusion, arXiv 2502.09992 §2.1).</summary>
    Bidirectional,
    /// <summary>Query i sees keys 0..i (autoregressive baseline).</summary>
    Causal,
    /// <summary>Query i sees every key of its own block and of all earlier blocks
    /// (block diffusion, Arriola et al. 2025, arXiv 2503.09573): key j is visible iff
    /// ⌊j / blockSize⌋ ≤ ⌊i / blockSize⌋.</summary>
    BlockCausal,
    /// <summary>BD3-LM's training view of a block-causal model (Arriola et al. 2025, §3.2, the "vectorized" loss):
    /// a canvas of 2L, the noised x_t then the clean x_0, both at positions 0..L−1. An x_t query of block b sees
    /// its own x_t block and the x_0 blocks before b; an x_0 query sees the x_0 blocks up to its own. One forward
    /// trains every block.</summary>
    BlockDiffusionPair,
    /// <summary>Attention mask annealing when adapting an autoregressive model (DiffuLLaMA, Gong et al. 2024, §3.2):
    /// query i sees keys 0..i plus the next <see cref="AttentionPattern.Lookahead"/> ones, a window the trainer widens
    /// from causal to bidirectional. (DiffuLLaMA unmasks random entries of the upper triangle at a growing rate; this
    /// deterministic window is Dllm's simpler schedule between the same endpoints.)</summary>
    Annealed,
}

/// <summary>
/// An attention pattern: a kind plus, for <see cref="AttentionPatternKind.BlockCausal"/>, the block size.
/// Every pattern but the BD3 pair view shows a query a prefix of the keys, <c>[0, KeyLimit(i, len))</c>; the
/// kernels hide keys through <see cref="Hide"/>, and KeyLimit bounds the visible keys of every pattern. BlockCausal with blockSize 1 equals Causal; with blockSize ≥ len it equals
/// Bidirectional.
/// </summary>
public readonly record struct AttentionPattern
{
    public AttentionPatternKind Kind { get; }
    /// <summary>Block size for BlockCausal; 0 for the other kinds.</summary>
    public int BlockSize { get; }

    /// <summary>Keys past the query an <see cref="AttentionPatternKind.Annealed"/> pattern shows; 0 otherwise.</summary>
    public int Lookahead { get; }

    /// <summary>The causal pattern with <paramref name="lookahead"/> more keys per query (0 = causal; ≥ the sequence length = bidirectional).</summary>
    /// <exception cref="ArgumentOutOfRangeException">lookahead &lt; 0.</exception>
    public static AttentionPattern Annealed(int lookahead)
        => lookahead >= 0 ? new(AttentionPatternKind.Annealed, 0, 0, lookahead) : throw new ArgumentOutOfRangeException(nameof(lookahead), lookahead, "must be ≥ 0");

    /// <summary>L, the length of each half of a <see cref="AttentionPatternKind.BlockDiffusionPair"/> canvas; 0 otherwise.</summary>
    public int Half { get; }

    private AttentionPattern(AttentionPatternKind kind, int blockSize, int half = 0, int lookahead = 0)
    {
        Kind = kind; BlockSize = blockSize; Half = half; Lookahead = lookahead;
    }

    /// <summary>BD3-LM's two-halves training view of block-causal attention with blocks of <paramref name="blockSize"/>
    /// over sequences of <paramref name="half"/> (a multiple of the block size).</summary>
    /// <exception cref="ArgumentOutOfRangeException">blockSize &lt; 1, or half not a positive multiple of it.</exception>
    public static AttentionPattern BlockDiffusionPair(int blockSize, int half)
    {
        if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "block size must be at least 1");
        if (half < blockSize || half % blockSize != 0)
            throw new ArgumentOutOfRangeException(nameof(half), half, $"sequence length must be a positive multiple of the block size {blockSize}");
        return new(AttentionPatternKind.BlockDiffusionPair, blockSize, half);
    }

    /// <summary>True when this pattern is the training view of <paramref name="model"/> (itself, or its BD3 pair view).</summary>
    public bool Trains(AttentionPattern model) => this == model
        || (Kind == AttentionPatternKind.BlockDiffusionPair && model.Kind == AttentionPatternKind.BlockCausal && model.BlockSize == BlockSize)
        || (Kind == AttentionPatternKind.Annealed && model.Kind == AttentionPatternKind.Bidirectional);

    /// <summary>
    /// The row whose hidden state gives position <paramref name="p"/>'s logits in a model that shifts them (Dream,
    /// Fast-dLLM v2, AR-adapted models: p − 1, position 0 its own). In a BD3 pair canvas, the first position of an
    /// x_t block reads the clean x_0 row before it, as decoding does (there the block before is final).
    /// </summary>
    public int ShiftSource(int p)
    {
        if (Kind == AttentionPatternKind.BlockDiffusionPair && p < Half && p > 0 && p % BlockSize == 0) return Half + p - 1;
        return Math.Max(p - 1, 0);
    }

    /// <summary>The RoPE position of canvas row <paramref name="i"/>: i, or i mod L in a pair canvas (both halves sit at 0..L−1).</summary>
    public int PositionOf(int i) => Kind == AttentionPatternKind.BlockDiffusionPair ? i % Half : i;

    /// <summary>Sets the scores of the keys query <paramref name="i"/> may not see to −∞ (a row of <paramref name="len"/> keys).</summary>
    public void Hide(int i, int len, Span<float> row)
    {
        if (Kind != AttentionPatternKind.BlockDiffusionPair)
        {
            int limit = KeyLimit(i, len);
            if (limit < len) row[limit..].Fill(float.NegativeInfinity);
            return;
        }
        int L = Half, B = BlockSize;
        if (i < L)
        {
            int b = i / B * B; // x_t: own block [b, b+B) and x_0 [L, L+b)
            row[..b].Fill(float.NegativeInfinity);
            row[Math.Min(b + B, L)..Math.Min(L, len)].Fill(float.NegativeInfinity);
            if (L + b < len) row[(L + b)..].Fill(float.NegativeInfinity);
        }
        else
        {
            row[..Math.Min(L, len)].Fill(float.NegativeInfinity); // x_0 sees only x_0 blocks up to its own
            int limit = KeyLimit(i, len);
            if (limit < len) row[limit..].Fill(float.NegativeInfinity);
        }
    }

    /// <summary>No mask (the default value of the struct).</summary>
    public static AttentionPattern Bidirectional => new(AttentionPatternKind.Bidirectional, 0);
    /// <summary>Lower-triangular mask.</summary>
    public static AttentionPattern Causal => new(AttentionPatternKind.Causal, 0);

    /// <summary>Block-causal mask with blocks of <paramref name="blockSize"/> positions.</summary>
    /// <exception cref="ArgumentOutOfRangeException">blockSize &lt; 1.</exception>
    public static AttentionPattern BlockCausal(int blockSize)
    {
        if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "block size must be at least 1");
        return new(AttentionPatternKind.BlockCausal, blockSize);
    }

    /// <summary>Exclusive end of the keys query <paramref name="i"/> may see in a sequence of <paramref name="len"/>.</summary>
    public int KeyLimit(int i, int len) => Kind switch
    {
        AttentionPatternKind.Causal => i + 1,
        AttentionPatternKind.BlockCausal => (int)Math.Min(len, ((long)i / BlockSize + 1) * BlockSize),
        AttentionPatternKind.Annealed => (int)Math.Min(len, (long)i + 1 + Lookahead),
        AttentionPatternKind.BlockDiffusionPair => Math.Min(len, i < Half ? Half + i / BlockSize * BlockSize : Half + ((i - Half) / BlockSize + 1) * BlockSize),
        _ => len,
    };

    public override string ToString() => Kind switch
    {
        AttentionPatternKind.BlockCausal => $"BlockCausal({BlockSize})",
        AttentionPatternKind.BlockDiffusionPair => $"BlockDiffusionPair({BlockSize}, {Half})",
        AttentionPatternKind.Annealed => $"Annealed({Lookahead})",
        _ => Kind.ToString(),
    };
}
