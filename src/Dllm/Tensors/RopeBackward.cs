namespace Dllm.Tensors;

/// <summary>
/// Backward of <see cref="Rope.Apply"/> (Su et al. 2021). RoPE multiplies each (j, j+hd/2) pair by a
/// rotation R(θ), so the gradient goes through Rᵀ = R(−θ), the inverse rotation:
/// <code>
///   dx[j] = dy[j]·cos + dy[j+hd/2]·sin,   dx[j+hd/2] = dy[j+hd/2]·cos − dy[j]·sin
/// </code>
/// computed in one pass by <see cref="Rope"/>'s own kernel with the table's sin negated (negation is
/// exact, so this is bit for bit the inverse rotation with the same cos/sin). With a partial rotary dim r
/// the pairs are (j, j+r/2) and the dims r..hd−1, which the forward passes through, keep their gradient.
/// </summary>
public static class RopeBackward
{
    /// <summary>Rotates dy back, in place: dy [rows × heads × hd], positions as in the forward.</summary>
    public static void ApplyTranspose(this Rope rope, Span<float> dy, int rows, int heads, ReadOnlySpan<int> positions)
    {
        if (dy.Length < (long)rows * heads * rope.HeadDim)
            throw new ArgumentException($"RoPE gradient has {dy.Length} elements, need {rows}x{heads}x{rope.HeadDim}");
        rope.Rotate(dy, rows, heads, positions, inverse: true);
    }
}
