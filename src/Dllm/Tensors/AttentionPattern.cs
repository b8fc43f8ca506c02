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
}

/// <summary>
/// An attention pattern: a kind plus, for <see cref="AttentionPatternKind.BlockCausal"/>, the block size.
/// Every pattern shows a query a prefix of the keys, <c>[0, KeyLimit(i, len))</c>, so kernels
/// only need that bound. BlockCausal with blockSize 1 equals Causal; with blockSize ≥ len it equals
/// Bidirectional.
/// </summary>
public readonly record struct AttentionPattern
{
    public AttentionPatternKind Kind { get; }
    /// <summary>Block size for BlockCausal; 0 for the other kinds.</summary>
    public int BlockSize { get; }

    private AttentionPattern(AttentionPatternKind kind, int blockSize) { Kind = kind; BlockSize = blockSize; }

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
        _ => len,
    };

    public override string ToString() => Kind == AttentionPatternKind.BlockCausal ? $"BlockCausal({BlockSize})" : Kind.ToString();
}
