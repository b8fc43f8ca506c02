namespace Dllm.Training;

/// <summary>Global-norm gradient clipping (Pascanu et al. 2013), as torch.nn.utils.clip_grad_norm_.</summary>
public static class GradientClipping
{
    /// <summary>‖g‖₂ over every element, in double.</summary>
    public static double GlobalNorm(ReadOnlySpan<float> grads)
    {
        double s = 0;
        foreach (float g in grads) s += (double)g * g;
        return Math.Sqrt(s);
    }

    /// <summary>
    /// Scales all gradients by maxNorm / (‖g‖ + 1e-6) when that is below 1; returns the norm before
    /// clipping (NaN/∞ norms are returned and nothing is scaled, so the caller can skip the step).
    /// </summary>
    public static double ClipGlobalNorm(Span<float> grads, double maxNorm)
    {
        if (maxNorm <= 0) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "must be positive");
        double norm = GlobalNorm(grads);
        if (!double.IsFinite(norm)) return norm;
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1)
        {
            float c = (float)coef;
            for (int i = 0; i < grads.Length; i++) grads[i] *= c;
        }
        return norm;
    }
}
