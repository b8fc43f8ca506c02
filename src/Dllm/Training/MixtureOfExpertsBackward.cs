using System.Numerics.Tensors;
using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>
/// Backward of <see cref="MixtureOfExperts"/> (x += Σ_k w_tk·E_sel_tk(h_t) + shared(h_t)) over the
/// activations its forward left on the tape. With dy = ∂loss/∂x_out [N × d]:
/// <code>
///   dOut_r   = w_tk · dy_t                            per assignment r = (t, k), grouped by expert
///   dw_tk    = ⟨dy_t, E_sel_tk(h_t)⟩                   the router's gradient (through the chosen weights)
///   expert e: down, SwiGLU and gate/up backward over its own rows only; dh_t += dInput_r
///   shared:   the dense SwiGLU backward over all N rows
///   router:   dlogits = TopKRouterBackward(dw, + ∂aux/∂p); dh += dlogits·W_gate, dW_gate += dlogitsᵀ·h
///             (LLaDA2 sigmoid router: TopKRouterBackward.BackwardGroupedSigmoid(dw), no auxiliary loss)
/// </code>
/// The top-k choice is not differentiable and gets no gradient; neither does the expert bias (a
/// buffer). Holds its gradient buffers, reused layer after layer. Not thread-safe.
/// </summary>
internal sealed class MixtureOfExpertsBackward
{
    private float[] _dOut = [], _dAct = [], _dGate = [], _dUp = [], _dInput = [], _dWeights = [], _dLogits = [];
    private float[] _dSharedAct = [], _dSharedGate = [], _dSharedUp = [];

    /// <summary>
    /// dh [n × d] = ∂loss/∂h (overwritten), gradients of every weight of <paramref name="w"/> added into
    /// <paramref name="p"/>'s gradients. h: the FFN input [n × d]; dy: ∂loss/∂x after the layer [n × d];
    /// dProbsPerExpert: ∂aux/∂p per expert, already scaled (empty = none).
    /// </summary>
    public void Backward(MoeWeights w, MoeConfig m, MoeActivations a, ReadOnlySpan<float> h, ReadOnlySpan<float> dy,
        Span<float> dh, int n, int d, ReadOnlySpan<float> dProbsPerExpert, Parameters p)
    {
        int experts = m.Experts, k = m.TopK, f = m.ExpertHidden, rows = n * k;
        Ensure(rows, n, d, m);

        // Shared expert (also initialises dh).
        if (w.Shared is ExpertWeights sh)
        {
            int fs = m.SharedExpertHidden;
            Span<float> dAct = _dSharedAct.AsSpan(0, n * fs), dGate = _dSharedGate.AsSpan(0, n * fs), dUp = _dSharedUp.AsSpan(0, n * fs);
            LinearBackward.Backward(a.SharedAct, dy, n, sh.Down, dAct, false, p.GradOf(sh.Down));
            SwiGluBackward.Backward(a.SharedGate.AsSpan(0, n * fs), a.SharedUp.AsSpan(0, n * fs), dAct, dGate, dUp);
            LinearBackward.Backward(h, dGate, n, sh.Gate, dh, false, p.GradOf(sh.Gate));
            LinearBackward.Backward(h, dUp, n, sh.Up, dh, true, p.GradOf(sh.Up));
        }
        else dh[..(n * d)].Clear();

        // Per assignment: the weighted output gradient and the weight's gradient.
        Span<float> dOut = _dOut.AsSpan(0, rows * d), dWeights = _dWeights.AsSpan(0, rows);
        for (int r = 0; r < rows; r++)
        {
            int t = a.Tokens[r], slot = t * k + a.Slots[r];
            ReadOnlySpan<float> dyt = dy.Slice(t * d, d);
            TensorPrimitives.Multiply(dyt, a.Weights[slot], dOut.Slice(r * d, d));
            dWeights[slot] = TensorPrimitives.Dot(dyt, a.Out.AsSpan(r * d, d));
        }

        for (int e = 0; e < experts; e++)
        {
            int r0 = a.Offsets[e], count = a.Offsets[e + 1] - r0;
            if (count == 0) continue;
            ExpertWeights ex = w.Experts[e];
            ReadOnlySpan<float> input = a.Input.AsSpan(r0 * d, count * d);
            Span<float> dAct = _dAct.AsSpan(r0 * f, count * f), dGate = _dGate.AsSpan(r0 * f, count * f), dUp = _dUp.AsSpan(r0 * f, count * f);
            Span<float> dInput = _dInput.AsSpan(r0 * d, count * d);
            LinearBackward.Backward(a.Act.AsSpan(r0 * f, count * f), dOut.Slice(r0 * d, count * d), count, ex.Down, dAct, false, p.GradOf(ex.Down));
            SwiGluBackward.Backward(a.Gate.AsSpan(r0 * f, count * f), a.Up.AsSpan(r0 * f, count * f), dAct, dGate, dUp);
            LinearBackward.Backward(input, dGate, count, ex.Gate, dInput, false, p.GradOf(ex.Gate));
            LinearBackward.Backward(input, dUp, count, ex.Up, dInput, true, p.GradOf(ex.Up));
            for (int i = 0; i < count; i++)
            {
                Span<float> dht = dh.Slice(a.Tokens[r0 + i] * d, d);
                TensorPrimitives.Add(dht, dInput.Slice(i * d, d), dht);
            }
        }

        Span<float> dLogits = _dLogits.AsSpan(0, n * experts);
        if (m.Router == RouterScoring.Llada2Sigmoid)
        {
            foreach (float g in dProbsPerExpert)
                if (g != 0) throw new NotSupportedException($"the {m.Router} router has no load-balancing loss gradient");
            TopKRouterBackward.BackwardGroupedSigmoid(a.Probs, n, experts, a.Selected, dWeights, k, (float)m.RoutedScalingFactor, dLogits);
        }
        else
            TopKRouterBackward.Backward(a.Probs, n, experts, a.Selected, dWeights, k, dProbsPerExpert, dLogits);
        LinearBackward.Backward(h, dLogits, n, w.Router, dh, true, p.GradOf(w.Router));
    }

    private void Ensure(int rows, int n, int d, MoeConfig m)
    {
        ActivationTape.Grow(ref _dOut, (long)rows * d);
        ActivationTape.Grow(ref _dInput, (long)rows * d);
        ActivationTape.Grow(ref _dAct, (long)rows * m.ExpertHidden);
        ActivationTape.Grow(ref _dGate, (long)rows * m.ExpertHidden);
        ActivationTape.Grow(ref _dUp, (long)rows * m.ExpertHidden);
        ActivationTape.Grow(ref _dWeights, rows);
        ActivationTape.Grow(ref _dLogits, (long)n * m.Experts);
        if (m.SharedExpertHidden > 0)
        {
            ActivationTape.Grow(ref _dSharedAct, (long)n * m.SharedExpertHidden);
            ActivationTape.Grow(ref _dSharedGate, (long)n * m.SharedExpertHidden);
            ActivationTape.Grow(ref _dSharedUp, (long)n * m.SharedExpertHidden);
        }
    }
}
