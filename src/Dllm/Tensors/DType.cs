namespace Dllm.Tensors;

/// <summary>Element types a checkpoint may store. Weights keep their stored type in memory and
/// are widened to float32 inside the kernels (bf16 stays 2 bytes per parameter); the block-quantized
/// types are multiplied in int8 by <see cref="QuantGemm"/>.</summary>
public enum DType
{
    /// <summary>IEEE 754 binary32.</summary>
    F32,
    /// <summary>IEEE 754 binary16.</summary>
    F16,
    /// <summary>bfloat16: the upper 16 bits of a binary32.</summary>
    BF16,
    /// <summary>ggml's Q8_0: blocks of 32 values along a row, each an f16 scale d then 32 int8 q (34 bytes); value = q·d.</summary>
    Q8_0,
    /// <summary>ggml's Q4_0: blocks of 32 values along a row, each an f16 scale d then 16 bytes of nibbles (18 bytes);
    /// byte j holds value j (low nibble) and value j + 16 (high nibble); value = (nibble − 8)·d.</summary>
    Q4_0,
    /// <summary>ggml's Q4_K (ggml-common.h <c>block_q4_K</c>): super-blocks of 256 values along a row (144 bytes): f16 d,
    /// f16 dmin, 12 bytes of 6-bit scale sc and min m for each of the 8 sub-blocks of 32, then 128 bytes of nibbles;
    /// value = d·sc·q − dmin·m (see <see cref="QuantBlocks"/>).</summary>
    Q4_K,
    /// <summary>ggml's Q6_K (ggml-common.h <c>block_q6_K</c>): super-blocks of 256 values (210 bytes): 128 bytes of low
    /// nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales (one per 16 values), f16 d; value = d·sc·(q − 32), q = 0..63.</summary>
    Q6_K,
    /// <summary>ggml's Q5_0 (ggml-common.h <c>block_q5_0</c>): blocks of 32 values (22 bytes): f16 d, 4 bytes qh (bit j = the
    /// high bit of value j, little-endian), 16 bytes of low nibbles (byte j: value j low, value j + 16 high);
    /// value = d·(q − 16), q = 0..31 (see <c>QuantBlocks.Q50.cs</c>).</summary>
    Q5_0,
    /// <summary>ggml's Q5_K (ggml-common.h <c>block_q5_K</c>): super-blocks of 256 values (176 bytes): f16 d, f16 dmin, 12 bytes
    /// of 6-bit scales and mins packed as in <see cref="Q4_K"/>, 32 bytes qh (high bits), 128 bytes of low nibbles;
    /// value = d·sc·q − dmin·m, q = 0..31 (see <c>QuantBlocks.Q5K.cs</c>).</summary>
    Q5_K,
}

/// <summary>Facts about <see cref="DType"/> values.</summary>
public static class DTypeInfo
{
    /// <summary>Values per block of Q8_0 and Q4_0 (ggml's QK8_0 = QK4_0 = 32), per sub-block of Q4_K, and per block of the
    /// int8 activations of <see cref="QuantGemm"/>.</summary>
    public const int QuantBlock = 32;

    /// <summary>Values per super-block of the K-quants (ggml's QK_K = 256).</summary>
    public const int SuperBlock = 256;

    /// <summary>True for the block-quantized types (Q8_0, Q5_0, Q4_0, Q6_K, Q5_K, Q4_K), whose
    /// elements are not individually addressable: views over them must be row-contiguous and start rows at block boundaries.</summary>
    public static bool IsQuantized(this DType t) => t is DType.Q8_0 or DType.Q4_0 or DType.Q4_K or DType.Q6_K or DType.Q5_0 or DType.Q5_K;

    /// <summary>Values per (super-)block of a quantized type: 32 for Q8_0, Q5_0 and Q4_0, 256 for Q4_K, Q5_K and Q6_K; 1 for the plain types.
    /// A quantized row must be whole blocks.</summary>
    public static int BlockValues(this DType t) => t switch
    {
        DType.Q8_0 or DType.Q4_0 or DType.Q5_0 => QuantBlock,
        DType.Q4_K or DType.Q6_K or DType.Q5_K => SuperBlock,
        _ => 1,
    };

    /// <summary>Bytes per element of a plain type.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An undefined value, or a quantized type (use <see cref="ByteCount"/>).</exception>
    public static int SizeOf(this DType t) => t switch
    {
        DType.F32 => 4,
        DType.F16 => 2,
        DType.BF16 => 2,
        DType.Q8_0 or DType.Q4_0 or DType.Q4_K or DType.Q6_K or DType.Q5_0 or DType.Q5_K => throw new ArgumentOutOfRangeException(nameof(t), t, $"{t} is a block format with no per-element size"),
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>Bytes of one block of a quantized type (<see cref="BlockValues"/> values; Q8_0: 34, Q4_0: 18, Q5_0: 22, Q4_K: 144, Q5_K: 176, Q6_K: 210).</summary>
    public static int BlockBytes(this DType t) => t switch
    {
        DType.Q8_0 => 2 + QuantBlock,
        DType.Q4_0 => 2 + QuantBlock / 2,
        DType.Q4_K => 2 + 2 + 12 + SuperBlock / 2,
        DType.Q6_K => SuperBlock / 2 + SuperBlock / 4 + SuperBlock / 16 + 2,
        DType.Q5_0 => 2 + 4 + QuantBlock / 2,
        DType.Q5_K => 2 + 2 + 12 + SuperBlock / 8 + SuperBlock / 2,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, $"{t} is not a block-quantized dtype"),
    };

    /// <summary>Bytes that <paramref name="elements"/> values occupy (for a quantized type: whole blocks).</summary>
    /// <exception cref="ArgumentException">A quantized type and a count that is not a multiple of its <see cref="BlockValues"/>.</exception>
    /// <exception cref="OverflowException">The byte count overflows.</exception>
    public static long ByteCount(this DType t, long elements)
    {
        if (!t.IsQuantized()) return checked(elements * t.SizeOf());
        int n = t.BlockValues();
        if (elements % n != 0) throw new ArgumentException($"{elements} values are not whole {t} blocks of {n}", nameof(elements));
        return checked(elements / n * t.BlockBytes());
    }

    /// <summary>The safetensors spelling ("F32", "F16", "BF16"; "Q8_0", "Q4_0", "Q5_0", "Q4_K", "Q5_K" and "Q6_K" are a Dllm extension, see <see cref="TryParseSafeTensors"/>).</summary>
    public static string SafeTensorsName(this DType t) => t switch
    {
        DType.F32 => "F32",
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        DType.Q8_0 => "Q8_0",
        DType.Q4_0 => "Q4_0",
        DType.Q4_K => "Q4_K",
        DType.Q6_K => "Q6_K",
        DType.Q5_0 => "Q5_0",
        DType.Q5_K => "Q5_K",
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>Parses a safetensors dtype name; returns false for anything this engine cannot compute with.
    /// "Q8_0", "Q4_0", "Q5_0", "Q4_K", "Q5_K" and "Q6_K" are not safetensors types: <c>dllm quantize</c> writes them (shape = the logical
    /// [rows, cols], data = ggml's block layout row after row, cols a multiple of the block); other readers reject such files.</summary>
    public static bool TryParseSafeTensors(string name, out DType t)
    {
        switch (name)
        {
            case "F32": t = DType.F32; return true;
            case "F16": t = DType.F16; return true;
            case "BF16": t = DType.BF16; return true;
            case "Q8_0": t = DType.Q8_0; return true;
            case "Q4_0": t = DType.Q4_0; return true;
            case "Q4_K": t = DType.Q4_K; return true;
            case "Q6_K": t = DType.Q6_K; return true;
            case "Q5_0": t = DType.Q5_0; return true;
            case "Q5_K": t = DType.Q5_K; return true;
            default: t = default; return false;
        }
    }
}
