namespace Dllm.Tensors;

/// <summary>
/// Backward of <see cref="Rope.Apply"/> (Su et al. 2021). RoPE multiplies each (j, j+hd/2) pair by a
/// rotation R(θ), so the gradient goes through Rᵀ = R(−θ), the inverse rotation:
/// <code>
///   dx[j] = dy[j]·cos + dy[j+hd/2]·sin,   dx[j+hd/2] = dy[j+hd/2]·cos − dy[j]·sin
/// </code>
/// It is computed with the forward table: R(−θ) = S·R(θ)·S where S negates the second half of the
/// head (negation is exact, so this is bit-for-bit the inverse rotation with the same cos/sin).
/// </summary>
public static class RopeBackward
{
    /// <summary>Rotates dy back, in place: dy [rows × heads × hd], positions as in the forward.</summary>
    public static void ApplyTranspose(this Rope rope, Span<float> dy, int rows, int heads, ReadOnlySpan<int> positions)
    {
        int hd = rope.HeadDim, half = hd / 2;
        if (dy.Length < (long)rows * heads * hd) throw new ArgumentException($"RoPE gradient has {dy.Length} elements, need {rows}x{heads}x{hd}");
        NegateSecondHalves(dy, rows * heads, hd, half);
        rope.Apply(dy, rows, heads, positions);
        NegateSecondHalves(dy, rows * heads, hd, half);
    }

    private static void NegateSecondHalves(Span<float> x, int vectors, int hd, int half)
    {
        for (int i = 0; i < vectors; i++)
        {
            Span<float> s = x.Slice(i * hd + half, half);
            for (int j = 0; j < half; j++) s[j] = -s[j];
        }
    }
}
