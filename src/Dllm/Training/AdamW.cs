using System.Runtime.Intrinsics;

namespace Dllm.Training;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter 2019, decoupled weight decay) with bias correction, in the order
/// PyTorch's torch.optim.AdamW applies it, per element at step t (1-based):
/// <code>
///   θ ← θ − lr·λ·θ                      (matrices only: 1-D tensors such as norm weights get no decay)
///   m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
///   θ ← θ − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
/// </code>
/// Moments are float32 arrays shaped like <see cref="Parameters.Values"/>.
/// </summary>
public sealed class AdamW
{
    private readonly Parameters _p;
    private readonly float[] _m, _v;

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    public double WeightDecay { get; }
    /// <summary>Steps taken so far.</summary>
    public long StepCount { get; private set; }

    /// <summary>First-moment estimates, laid out like <see cref="Parameters.Values"/> (for checkpoints).</summary>
    public float[] FirstMoment => _m;
    /// <summary>Second-moment estimates, laid out like <see cref="Parameters.Values"/> (for checkpoints).</summary>
    public float[] SecondMoment => _v;

    /// <summary>Sets the step count after the moments were restored from a checkpoint (bias correction depends on it).</summary>
    public void RestoreStepCount(long steps)
    {
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, "must be ≥ 0");
        StepCount = steps;
    }

    public AdamW(Parameters parameters, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0.1)
    {
        if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), "betas must lie in [0, 1)");
        if (epsilon <= 0 || weightDecay < 0) throw new ArgumentOutOfRangeException(nameof(epsilon), "epsilon must be > 0, weight decay ≥ 0");
        _p = parameters;
        _m = new float[parameters.Count];
        _v = new float[parameters.Count];
        Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon; WeightDecay = weightDecay;
    }

    /// <summary>One update from the current gradients with learning rate <paramref name="lr"/>. Gradients are left as they are.</summary>
    public void Step(double lr)
    {
        StepCount++;
        double bc1 = 1 - Math.Pow(Beta1, StepCount), bc2 = 1 - Math.Pow(Beta2, StepCount);
        float b1 = (float)Beta1, b2 = (float)Beta2, eps = (float)Epsilon;
        float stepSize = (float)(lr / bc1), invSqrtBc2 = (float)(1 / Math.Sqrt(bc2));
        float[] w = _p.Values, g = _p.Grads;
        foreach (ParameterTensor t in _p.Tensors)
        {
            float decay = t.IsMatrix ? (float)(1 - lr * WeightDecay) : 1f;
            int i = (int)t.Offset, end = i + t.Length;
            // Vector lanes run exactly the scalar float operations, in the same order (no FMA
            // contraction), so the update is bit-identical to the scalar tail whatever the width.
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> vb1 = Vector256.Create(b1), vb2 = Vector256.Create(b2), v1b1 = Vector256.Create(1 - b1), v1b2 = Vector256.Create(1 - b2);
                Vector256<float> vdecay = Vector256.Create(decay), vstep = Vector256.Create(stepSize), vbc2 = Vector256.Create(invSqrtBc2), veps = Vector256.Create(eps);
                ref float rw = ref w[0], rg = ref g[0], rm = ref _m[0], rv = ref _v[0];
                for (; i + Vector256<float>.Count <= end; i += Vector256<float>.Count)
                {
                    Vector256<float> gi = Vector256.LoadUnsafe(ref rg, (nuint)i);
                    Vector256<float> m = vb1 * Vector256.LoadUnsafe(ref rm, (nuint)i) + v1b1 * gi;
                    Vector256<float> v = vb2 * Vector256.LoadUnsafe(ref rv, (nuint)i) + v1b2 * gi * gi;
                    m.StoreUnsafe(ref rm, (nuint)i);
                    v.StoreUnsafe(ref rv, (nuint)i);
                    Vector256<float> wi = Vector256.LoadUnsafe(ref rw, (nuint)i);
                    (wi * vdecay - vstep * m / (Vector256.Sqrt(v) * vbc2 + veps)).StoreUnsafe(ref rw, (nuint)i);
                }
            }
            for (; i < end; i++)
            {
                float gi = g[i];
                float m = _m[i] = b1 * _m[i] + (1 - b1) * gi;
                float v = _v[i] = b2 * _v[i] + (1 - b2) * gi * gi;
                w[i] = w[i] * decay - stepSize * m / (MathF.Sqrt(v) * invSqrtBc2 + eps);
            }
        }
    }
}
