using System.Numerics.Tensors;

namespace Dllm.Tensors;

/// <summary>The SiLU-gated MLP activation (Shazeer 2020): out = SiLU(gate) ⊙ up, SiLU(g) = g·σ(g).</summary>
public static class SwiGlu
{
    /// <summary>gate ← SiLU(gate) ⊙ up, elementwise over equal-length spans.</summary>
    public static void ForwardInPlace(Span<float> gate, ReadOnlySpan<float> up) => Forward(gate, up, gate);

    /// <summary>output = SiLU(gate) ⊙ up, elementwise over equal-length spans; output may be gate itself
    /// (training keeps gate for the backward and writes elsewhere). Large spans are split over
    /// <see cref="Parallelism.Threads"/> workers.</summary>
    public static unsafe void Forward(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> output)
    {
        if (gate.Length != up.Length || output.Length != gate.Length)
            throw new ArgumentException($"gate has {gate.Length} elements, up {up.Length}, output {output.Length}");
        fixed (float* pg = gate, pu = up, po = output)
        {
            nint ag = (nint)pg, au = (nint)pu, ao = (nint)po;
            Parallelism.ForRanges(gate.Length, Parallelism.MinElementsPerWorker, (i0, i1) =>
            {
                // Work in chunks so the sigmoid temporary stays in L1.
                Span<float> sig = stackalloc float[1024];
                for (int i = i0; i < i1; i += sig.Length)
                {
                    int n = Math.Min(sig.Length, i1 - i);
                    var g = new ReadOnlySpan<float>((float*)ag + i, n);
                    var o = new Span<float>((float*)ao + i, n);
                    Span<float> s = sig[..n];
                    TensorPrimitives.Sigmoid(g, s);
                    TensorPrimitives.Multiply(g, s, o);
                    TensorPrimitives.Multiply(o, new ReadOnlySpan<float>((float*)au + i, n), o);
                }
            });
        }
    }
}
