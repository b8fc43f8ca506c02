using System.Numerics.Tensors;

namespace Dllm.Tensors;

/// <summary>
/// Backward of <see cref="SwiGlu.ForwardInPlace"/> (Shazeer 2020). out = SiLU(g)·u, σ = sigmoid:
/// <code>
///   du = dout·SiLU(g) = dout·g·σ(g)
///   dg = dout·u·σ(g)·(1 + g·(1 − σ(g))) = dout·u·(σ(g) + SiLU(g)·(1 − σ(g)))   (d/dg of g·σ(g))
/// </code>
/// Needs the pre-activation gate g and up u (the forward overwrites g, so keep a copy).
/// Vectorised with TensorPrimitives in L1-sized chunks, like the forward.
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
        Span<float> sigBuf = stackalloc float[512], siluBuf = stackalloc float[512];
        for (int i = 0; i < n; i += sigBuf.Length)
        {
            int c = Math.Min(sigBuf.Length, n - i);
            ReadOnlySpan<float> g = gate.Slice(i, c), u = up.Slice(i, c), d = dOut.Slice(i, c);
            Span<float> s = sigBuf[..c], silu = siluBuf[..c], dg = dGate.Slice(i, c);
            TensorPrimitives.Sigmoid(g, s);
            TensorPrimitives.Multiply(g, s, silu);
            TensorPrimitives.Multiply(d, silu, dUp.Slice(i, c));
            TensorPrimitives.Subtract(1f, s, dg);                    // 1 − σ
            TensorPrimitives.FusedMultiplyAdd(silu, dg, s, dg);      // σ + SiLU·(1 − σ)
            TensorPrimitives.Multiply(dg, u, dg);
            TensorPrimitives.Multiply(dg, d, dg);
        }
    }
}
