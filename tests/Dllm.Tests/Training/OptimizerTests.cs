using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Training;

/// <summary>AdamW against a hand computation, clipping, and schedule values at key steps.</summary>
public class OptimizerTests
{
    [Fact]
    public void AdamW_matches_a_hand_computed_two_steps_and_skips_decay_on_norms()
    {
        var p = new Parameters();
        ParameterTensor w = p.Add("w", 1, 2), n = p.Add("norm", 1);
        p.Allocate();
        p.Value(w)[0] = 0.5f; p.Value(w)[1] = -1f; p.Value(n)[0] = 2f;
        double lr = 0.1, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        var opt = new AdamW(p, b1, b2, eps, wd);
        double[] theta = [0.5, -1, 2], m = new double[3], v = new double[3];
        double[][] grads = [[0.2, -0.4, 1.0], [-0.1, 0.3, 0.5]];
        for (int t = 1; t <= 2; t++)
        {
            for (int i = 0; i < 3; i++) p.Grads[i] = (float)grads[t - 1][i];
            opt.Step(lr);
            for (int i = 0; i < 3; i++)
            {
                double g = grads[t - 1][i];
                if (i < 2) theta[i] *= 1 - lr * wd; // decoupled decay, matrices only
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double mh = m[i] / (1 - Math.Pow(b1, t)), vh = v[i] / (1 - Math.Pow(b2, t));
                theta[i] -= lr * mh / (Math.Sqrt(vh) + eps);
                Assert.Equal(theta[i], p.Values[i], 5e-6); // float32 state: ~1e-6 rounding; a missing term is ≥ 1e-2
            }
        }
        // First step moves each weight by ≈ lr (Adam's unit step) plus decay: 0.5·0.99 − 0.1.
        Assert.Equal(2, opt.StepCount);
    }

    /// <summary>Tensors long enough for the vectorised update (3 × 7 = 2 vectors + a 5-element tail,
    /// and a 19-element norm) must give bit for bit the per-element float32 update, step after step
    /// (checkpoints resume exactly only if the update does not depend on the vector width).</summary>
    [Fact]
    public void AdamW_vector_lanes_equal_the_scalar_float_update()
    {
        var p = new Parameters();
        p.Add("w", 3, 7); p.Add("norm", 19);
        p.Allocate();
        var rng = new Random(5);
        for (int i = 0; i < p.Values.Length; i++) p.Values[i] = (float)(rng.NextDouble() - 0.5);
        float[] w = (float[])p.Values.Clone(), m = new float[w.Length], v = new float[w.Length];
        const double lr = 3e-3, wd = 0.1;
        var opt = new AdamW(p, weightDecay: wd);
        for (int t = 1; t <= 3; t++)
        {
            for (int i = 0; i < w.Length; i++) p.Grads[i] = (float)(rng.NextDouble() - 0.5);
            opt.Step(lr);
            double bc1 = 1 - Math.Pow(0.9, t), bc2 = 1 - Math.Pow(0.999, t);
            float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, stepSize = (float)(lr / bc1), inv = (float)(1 / Math.Sqrt(bc2));
            for (int i = 0; i < w.Length; i++)
            {
                float decay = i < 21 ? (float)(1 - lr * wd) : 1f, g = p.Grads[i];
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                w[i] = w[i] * decay - stepSize * m[i] / (MathF.Sqrt(v[i]) * inv + eps);
            }
            Assert.Equal(w, p.Values);
            Assert.Equal(m, opt.FirstMoment);
            Assert.Equal(v, opt.SecondMoment);
        }
    }

    [Fact]
    public void Global_norm_clipping()
    {
        float[] g = [3, 4];
        Assert.Equal(5, GradientClipping.ClipGlobalNorm(g, 10), 1e-9);
        Assert.Equal([3f, 4f], g); // under the limit: untouched
        Assert.Equal(5, GradientClipping.ClipGlobalNorm(g, 1), 1e-9);
        Assert.Equal(0.6f, g[0], 1e-6f);
        Assert.Equal(0.8f, g[1], 1e-6f);
        float[] bad = [float.NaN, 1];
        Assert.True(double.IsNaN(GradientClipping.ClipGlobalNorm(bad, 1)));
    }

    [Fact]
    public void Warmup_stable_decay_values()
    {
        var s = new WarmupStableDecay(Peak: 1.0, WarmupSteps: 10, TotalSteps: 100, DecaySteps: 20, Floor: 0.1);
        Assert.Equal(0.1, s.At(0), 1e-12);   // (0+1)/10
        Assert.Equal(0.5, s.At(4), 1e-12);
        Assert.Equal(1.0, s.At(9), 1e-12);   // warmup ends at peak
        Assert.Equal(1.0, s.At(10), 1e-12);
        Assert.Equal(1.0, s.At(79), 1e-12);  // last stable step
        Assert.Equal(1.0 - 0.9 / 20, s.At(80), 1e-12);
        Assert.Equal(0.55, s.At(89), 1e-12); // halfway down
        Assert.Equal(0.1, s.At(99), 1e-12);  // floor at the last step
        Assert.Equal(0.1, s.At(500), 1e-12);
        Assert.Throws<InvalidOperationException>(() => new WarmupStableDecay(1, 60, 100, 50).At(0));
    }

    [Fact]
    public void Cosine_with_warmup_values()
    {
        var s = new CosineWithWarmup(Peak: 1.0, WarmupSteps: 10, TotalSteps: 110, Floor: 0.0);
        Assert.Equal(0.1, s.At(0), 1e-12);
        Assert.Equal(1.0, s.At(10), 1e-12);
        Assert.Equal(0.5, s.At(60), 1e-12);
        Assert.Equal((1 + Math.Cos(Math.PI / 4)) / 2, s.At(35), 1e-12);
        Assert.Equal(0.0, s.At(110), 1e-12);
        Assert.Equal(0.0, s.At(1000), 1e-12);
    }
}
