using System.Runtime.Intrinsics;

namespace Dllm.Tensors;

/// <summary>
/// Rotary position embedding (Su et al. 2021) in the rotate-half layout used by Llama and LLaDA:
/// dimension j is paired with j + hd/2 (not interleaved), angle = pos · θ^(−2j/hd).
/// out[j] = x[j]·cos − x[j+hd/2]·sin; out[j+hd/2] = x[j+hd/2]·cos + x[j]·sin.
/// With a rotary dim r &lt; hd (partial rotary, LLaDA2's <c>partial_rotary_factor</c>: modeling_llada2_moe.py
/// <c>apply_rotary_pos_emb</c> rotates <c>q[..., :rotary_dim]</c> and concatenates <c>q[..., rotary_dim:]</c> back
/// unchanged) the same holds with r in place of hd for dims 0..r−1 of each head (pairs j, j + r/2; angle
/// pos · θ^(−2j/r), transformers' default inv_freq over <c>int(head_dim · partial_rotary_factor)</c> dims), and
/// dims r..hd−1 pass through.
/// The cos/sin table covers the positions used so far and grows on demand (doubling, up to
/// <c>maxPositions</c>), so a model whose config allows a million positions costs nothing until a
/// sequence that long arrives. Every entry is computed the same way whenever it is built.
/// </summary>
public sealed class Rope
{
    /// <summary>cos and sin for positions [0, Positions): [Positions × rotaryDim/2] each.</summary>
    private sealed record Table(float[] Cos, float[] Sin, int Positions);

    private readonly float[] _invFreq; // [rotaryDim/2]
    private readonly object _grow = new();
    private volatile Table _table;

    public int HeadDim { get; }
    /// <summary>The leading dims of each head that rotate (<see cref="HeadDim"/> unless partial); the rest pass through.</summary>
    public int RotaryDim { get; }
    public int MaxPositions { get; }

    /// <param name="headDim">Width of one head (even).</param>
    /// <param name="maxPositions">Positions the table may grow to (the model's maximum sequence length).</param>
    /// <param name="theta">The RoPE base.</param>
    /// <param name="rotaryDim">Dims rotated per head, from the start of the head; 0 (the default) means all of them.</param>
    /// <exception cref="ArgumentException">An odd or non-positive head dimension, a rotary dim that is odd or outside
    /// 1..headDim, a non-positive position count, or a theta that is not a finite positive number.</exception>
    public Rope(int headDim, int maxPositions, double theta, int rotaryDim = 0)
    {
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentException($"RoPE needs an even head dimension, got {headDim}");
        if (rotaryDim == 0) rotaryDim = headDim;
        if (rotaryDim < 0 || rotaryDim > headDim || rotaryDim % 2 != 0)
            throw new ArgumentException($"RoPE's rotary dim must be even and in 2..{headDim} (the head dim), got {rotaryDim}");
        if (maxPositions <= 0) throw new ArgumentOutOfRangeException(nameof(maxPositions), maxPositions, "must be positive");
        if (!(theta > 0) || double.IsInfinity(theta)) throw new ArgumentException($"RoPE theta must be a finite positive number, got {theta}");
        HeadDim = headDim;
        RotaryDim = rotaryDim;
        MaxPositions = maxPositions;
        int half = rotaryDim / 2;
        _invFreq = new float[half];
        // inv_freq in float32 as the reference computes it, the angle product too (over the rotary dims only).
        for (int j = 0; j < half; j++) _invFreq[j] = (float)(1.0 / Math.Pow(theta, 2.0 * j / rotaryDim));
        _table = Build(Math.Min(maxPositions, 64));
    }

    private Table Build(int positions)
    {
        int half = RotaryDim / 2;
        var cos = new float[(long)positions * half];
        var sin = new float[(long)positions * half];
        for (int p = 0; p < positions; p++)
            for (int j = 0; j < half; j++)
            {
                float angle = p * _invFreq[j];
                cos[(long)p * half + j] = MathF.Cos(angle);
                sin[(long)p * half + j] = MathF.Sin(angle);
            }
        return new Table(cos, sin, positions);
    }

    /// <summary>The table, grown to cover positions [0, needed).</summary>
    private Table Covering(int needed)
    {
        Table t = _table;
        if (needed <= t.Positions) return t;
        lock (_grow)
        {
            t = _table;
            if (needed > t.Positions) _table = t = Build((int)Math.Min(MaxPositions, Math.Max(needed, 2L * t.Positions)));
            return t;
        }
    }

    /// <summary>
    /// Rotates, in place, the first <see cref="RotaryDim"/> dims of every head of every row: x is [rows × heads × hd] row-major, and row r
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
        int hd = HeadDim, half = RotaryDim / 2;
        if (x.Length < (long)rows * heads * hd) throw new ArgumentException($"RoPE input has {x.Length} elements, need {rows}x{heads}x{hd}");
        if (positions.Length < rows) throw new ArgumentException($"RoPE needs {rows} positions, got {positions.Length}");
        int highest = 0;
        for (int r = 0; r < rows; r++)
        {
            if ((uint)positions[r] >= (uint)MaxPositions)
                throw new ArgumentOutOfRangeException(nameof(positions), positions[r], $"position beyond the model's maximum sequence length {MaxPositions}");
            highest = Math.Max(highest, positions[r]);
        }
        Table table = Covering(highest + 1);
        unsafe
        {
            // Rows are independent: split them over the workers (raw addresses: lambdas cannot capture spans).
            fixed (float* px = x, pc = table.Cos, ps = table.Sin)
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
