using System.Numerics.Tensors;

namespace Dllm.Tensors;

/// <summary>
/// Backward of <see cref="SwiGlu.ForwardInPlace"/> (Shazeer 2020). out = SiLU(g)·u, σ = sigmoid:
/// <code>
///   du = dout·SiLU(g) = dout·g·σ(g)
///   dg = dout·u·σ(g)·(1 + g·(1 − σ(g))) = dout·u·(σ(g) + SiLU(g)·(1 − σ(g)))   (d/dg of g·σ(g))
/// </code>
/// Needs the pre-activation gate g and up u (the forward overwrites g, so keep a copy).
/// Vectorised with TensorPrimitives in L1-sized chunks and split over workers, like the forward.
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
        unsafe
        {
            fixed (float* pg = gate, pu = up, pd = dOut, pdg = dGate, pdu = dUp)
            {
                nint ag = (nint)pg, au = (nint)pu, ad = (nint)pd, adg = (nint)pdg, adu = (nint)pdu;
                Parallelism.ForRanges(n, Parallelism.MinElementsPerWorker, (i0, i1) =>
                {
                    Span<float> sigBuf = stackalloc float[512], siluBuf = stackalloc float[512];
                    for (int i = i0; i < i1; i += sigBuf.Length)
                    {
                        int c = Math.Min(sigBuf.Length, i1 - i);
                        var g = new ReadOnlySpan<float>((float*)ag + i, c);
                        var u = new ReadOnlySpan<float>((float*)au + i, c);
                        var d = new ReadOnlySpan<float>((float*)ad + i, c);
                        var dg = new Span<float>((float*)adg + i, c);
                        Span<float> s = sigBuf[..c], silu = siluBuf[..c];
                        TensorPrimitives.Sigmoid(g, s);
                        TensorPrimitives.Multiply(g, s, silu);
                        TensorPrimitives.Multiply(d, silu, new Span<float>((float*)adu + i, c));
                        TensorPrimitives.Subtract(1f, s, dg);                    // 1 − σ
                        TensorPrimitives.FusedMultiplyAdd(silu, dg, s, dg);      // σ + SiLU·(1 − σ)
                        TensorPrimitives.Multiply(dg, u, dg);
                        TensorPrimitives.Multiply(dg, d, dg);
                    }
                });
            }
        }
    }
}
