using System.Numerics.Tensors;

namespace Dllm.Tensors;

/// <summary>The SiLU-gated MLP activation (Shazeer 2020): out = SiLU(gate) ⊙ up, SiLU(g) = g·σ(g).</summary>
public static class SwiGlu
{
    /// <summary>gate ← SiLU(gate) ⊙ up, elementwise over equal-length spans; large spans are split
    /// over <see cref="Parallelism.Threads"/> workers.</summary>
    public static unsafe void ForwardInPlace(Span<float> gate, ReadOnlySpan<float> up)
    {
        if (gate.Length != up.Length) throw new ArgumentException($"gate has {gate.Length} elements, up has {up.Length}");
        fixed (float* pg = gate, pu = up)
        {
            nint ag = (nint)pg, au = (nint)pu;
            Parallelism.ForRanges(gate.Length, Parallelism.MinElementsPerWorker, (i0, i1) =>
            {
                // Work in chunks so the sigmoid temporary stays in L1.
                Span<float> sig = stackalloc float[1024];
                for (int i = i0; i < i1; i += sig.Length)
                {
                    int n = Math.Min(sig.Length, i1 - i);
                    var g = new Span<float>((float*)ag + i, n);
                    Span<float> s = sig[..n];
                    TensorPrimitives.Sigmoid(g, s);
                    TensorPrimitives.Multiply(g, s, g);
                    TensorPrimitives.Multiply(g, new ReadOnlySpan<float>((float*)au + i, n), g);
                }
            });
        }
    }
}
