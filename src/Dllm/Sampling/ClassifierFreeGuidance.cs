using System.Numerics.Tensors;

namespace Dllm.Sampling;

/// <summary>
/// Unsupervised classifier-free guidance for masked diffusion (LLaDA §2.4, Nie et al. 2024):
/// the unconditional canvas is the canvas with every prompt position replaced by the mask, and
/// the guided logits are u + (w + 1)·(c − u).
/// </summary>
public static class ClassifierFreeGuidance
{
    /// <summary>conditional ← u + (scale + 1)·(c − u), elementwise.</summary>
    public static void Combine(Span<float> conditional, ReadOnlySpan<float> unconditional, double scale)
    {
        // c − u, times (w+1), plus u
        TensorPrimitives.Subtract(conditional, unconditional, conditional);
        TensorPrimitives.MultiplyAdd(conditional, (float)(scale + 1), unconditional, conditional);
    }
}
