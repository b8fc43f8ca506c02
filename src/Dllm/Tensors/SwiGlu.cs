using System.Numerics.Tensors;

namespace Dllm.Tensors;

/// <summary>The SiLU-gated MLP activation (Shazeer 2020): out = SiLU(gate) ⊙ up, SiLU(g) = g·σ(g).</summary>
public static class SwiGlu
{
    /// <summary>gate ← SiLU(gate) ⊙ up, elementwise over equal-length spans.</summary>
    public static void ForwardInPlace(Span<float> gate, ReadOnlySpan<float> up)
    {
        if (gate.Length != up.Length) throw new ArgumentException($"gate has {gate.Length} elements, up has {up.Length}");
        // Work in chunks so the sigmoid temporary stays in L1.
        Span<float> sig = stackalloc float[1024];
        for (int i = 0; i < gate.Length; i += sig.Length)
        {
            int n = Math.Min(sig.Length, gate.Length - i);
            Span<float> g = gate.Slice(i, n), s = sig[..n];
            TensorPrimitives.Sigmoid(g, s);
            TensorPrimitives.Multiply(g, s, g);
            TensorPrimitives.Multiply(g, up.Slice(i, n), g);
        }
    }
}
