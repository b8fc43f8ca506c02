using System.Runtime.Intrinsics;

namespace Dllm.Tensors;

/// <summary>
/// Rotary position embedding (Su et al. 2021) in the rotate-half layout used by Llama and LLaDA:
/// dimension j is paired with j + hd/2 (not interleaved), angle = pos · θ^(−2j/hd).
/// out[j] = x[j]·cos − x[j+hd/2]·sin; out[j+hd/2] = x[j+hd/2]·cos + x[j]·sin.
/// The cos/sin table is built once for <c>maxPositions</c> positions.
/// </summary>
public sealed class Rope
{
    private readonly float[] _cos; // [maxPositions × hd/2]
    private readonly float[] _sin;

    public int HeadDim { get; }
    public int MaxPositions { get; }

    public Rope(int headDim, int maxPositions, double theta)
    {
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentException($"RoPE needs an even head dimension, got {headDim}");
        if (maxPositions <= 0) throw new ArgumentOutOfRangeException(nameof(maxPositions), maxPositions, "must be positive");
        HeadDim = headDim;
        MaxPositions = maxPositions;
        int half = headDim / 2;
        _cos = new float[maxPositions * half];
        _sin = new float[maxPositions * half];
        for (int j = 0; j < half; j++)
        {
            // inv_freq in float32 as the reference computes it, the angle product too.
            float invFreq = (float)(1.0 / Math.Pow(theta, 2.0 * j / headDim));
            for (int p = 0; p < maxPositions; p++)
            {
                float angle = p * invFreq;
                _cos[p * half + j] = MathF.Cos(angle);
                _sin[p * half + j] = MathF.Sin(angle);
            }
        }
    }

    /// <summary>
    /// Rotates, in place, every head of every row: x is [rows × heads × hd] row-major, and row r
    /// sits at position positions[r]. Positions must lie in [0, MaxPositions). Large inputs are split
    /// by rows over <see cref="Parallelism.Threads"/> workers.
    /// </summary>
    public void Apply(Span<float> x, int rows, int heads, ReadOnlySpan<int> positions)
        => Rotate(x, rows, heads, positions, inverse: false);

    /// <summary>
    /// <see cref="Apply"/> (inverse: false) or the inverse rotation R(−θ) = Rᵀ (inverse: true, the
    /// backward of <see cref="Apply"/>: see <see cref="RopeBackward"/>), from the same table with sin
    /// negated (exact, so the inverse is bit for bit the transpose with the same cos/sin).
    /// </summary>
    internal void Rotate(Span<float> x, int rows, int heads, ReadOnlySpan<int> positions, bool inverse)
    {
        int hd = HeadDim, half = hd / 2;
        if (x.Length < (long)rows * heads * hd) throw new ArgumentException($"RoPE input has {x.Length} elements, need {rows}x{heads}x{hd}");
        if (positions.Length < rows) throw new ArgumentException($"RoPE needs {rows} positions, got {positions.Length}");
        for (int r = 0; r < rows; r++)
            if ((uint)positions[r] >= (uint)MaxPositions)
                throw new ArgumentOutOfRangeException(nameof(positions), positions[r], $"position beyond the model's maximum sequence length {MaxPositions}");
        unsafe
        {
            // Rows are independent: split them over the workers (raw addresses: lambdas cannot capture spans).
            fixed (float* px = x, pc = _cos, ps = _sin)
            fixed (int* ppos = positions)
            {
                nint ax = (nint)px, ac = (nint)pc, asin = (nint)ps, apos = (nint)ppos;
                float sign = inverse ? -1f : 1f;
                Parallelism.ForRanges(rows, Math.Max(1, Parallelism.MinElementsPerWorker / (heads * hd)), (r0, r1) =>
                {
                    for (int r = r0; r < r1; r++)
                    {
                        int p = ((int*)apos)[r];
                        float* c = (float*)ac + (long)p * half, sn = (float*)asin + (long)p * half;
                        for (int h = 0; h < heads; h++)
                            RotateHead((float*)ax + ((long)r * heads + h) * hd, c, sn, sign, half);
                    }
                });
            }
        }
    }

    /// <summary>One head in place: (a, b) = (v[j], v[j+half]) → (a·cos − b·sin', b·cos + a·sin') with
    /// sin' = sign·sin; the same float operations in vector lanes as in the scalar tail (so results do
    /// not depend on the width).</summary>
    private static unsafe void RotateHead(float* v, float* c, float* s, float sign, int half)
    {
        int j = 0;
        Vector256<float> vsign = Vector256.Create(sign);
        for (; j + Vector256<float>.Count <= half; j += Vector256<float>.Count)
        {
            Vector256<float> a = Vector256.Load(v + j), b = Vector256.Load(v + j + half);
            Vector256<float> cj = Vector256.Load(c + j), sj = Vector256.Load(s + j) * vsign;
            Vector256.Store(a * cj - b * sj, v + j);
            Vector256.Store(b * cj + a * sj, v + j + half);
        }
        for (; j < half; j++)
        {
            float a = v[j], b = v[j + half], sj = s[j] * sign;
            v[j] = a * c[j] - b * sj;
            v[j + half] = b * c[j] + a * sj;
        }
    }
}
