namespace Dllm.Tensors;

/// <summary>
/// General matrix multiply: C[m×n] (+)= A[m×k] · B[k×n], where A and B are strided views of any
/// <see cref="DType"/> (weights stay in their stored type and are widened on the fly) and C is
/// row-major float32 with leading dimension ldc. Linear layers call it with B = Wᵀ
/// (<see cref="MatrixView.T"/> of an (out × in) weight).
/// PLACEHOLDER: naive triple loop; the packed AVX2 kernel replaces the body, not the signature.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>C = A·B (accumulate = false) or C += A·B (accumulate = true).</summary>
    public static void Multiply(in MatrixView a, in MatrixView b, float* c, int ldc, bool accumulate = false)
    {
        if (a.Cols != b.Rows) throw new ArgumentException($"inner dimensions differ: A is {a.Rows}x{a.Cols}, B is {b.Rows}x{b.Cols}");
        int m = a.Rows, n = b.Cols, k = a.Cols;
        var av = a; var bv = b;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++) s += Load(av, i, p) * Load(bv, p, j);
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + s : s;
            }
    }

    /// <summary>y[m×n] = x[m×k] · Wᵀ for a weight W of shape (n × k) in any dtype (a linear layer without bias).</summary>
    public static void LinearForward(ReadOnlySpan<float> x, int m, in MatrixView w, Span<float> y, bool accumulate = false)
    {
        int k = w.Cols, n = w.Rows;
        if (x.Length < (long)m * k) throw new ArgumentException($"x has {x.Length} elements, need {m}x{k}", nameof(x));
        if (y.Length < (long)m * n) throw new ArgumentException($"y has {y.Length} elements, need {m}x{n}", nameof(y));
        fixed (float* px = x) fixed (float* py = y)
        {
            var a = MatrixView.RowMajor((nint)px, DType.F32, m, k);
            Multiply(a, w.T, py, n, accumulate);
        }
    }

    private static float Load(in MatrixView v, int i, int j)
    {
        nint p = v.At(i, j);
        return v.DType switch
        {
            DType.F32 => *(float*)p,
            DType.F16 => (float)*(Half*)p,
            _ => Widen.Bf16ToSingle(*(ushort*)p),
        };
    }
}
