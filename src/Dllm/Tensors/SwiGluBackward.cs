namespace Dllm.Tensors;

/// <summary>
/// Backward of <see cref="SwiGlu.ForwardInPlace"/> (Shazeer 2020). out = SiLU(g)·u, σ = sigmoid:
/// <code>
///   du = dout·SiLU(g) = dout·g·σ(g)
///   dg = dout·u·σ(g)·(1 + g·(1 − σ(g)))        (d/dg of g·σ(g))
/// </code>
/// Needs the pre-activation gate g and up u (the forward overwrites g, so keep a copy).
/// </summary>
public static class SwiGluBackward
{
    /// <summary>gate, up, dOut, dGate, dUp: equal lengths. dGate and dUp are overwritten.</summary>
    public static void Backward(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, ReadOnlySpan<float> dOut,
        Span<float> dGate, Span<float> dUp)
    {
        int n = gate.Length;
        if (up.Length != n || dOut.Length < n || dGate.Length < n || dUp.Length < n)
            throw new ArgumentException($"SwiGLU backward spans differ in length (gate {n}, up {up.Length})");
        for (int i = 0; i < n; i++)
        {
            float g = gate[i], s = 1f / (1f + MathF.Exp(-g)), d = dOut[i];
            dUp[i] = d * g * s;
            dGate[i] = d * up[i] * s * (1f + g * (1f - s));
        }
    }
}
