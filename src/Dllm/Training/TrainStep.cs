namespace Dllm.Training;

/// <summary>
/// One optimiser step with gradient accumulation: zero the gradients, forward/backward each
/// micro-batch with its gradient scaled by 1/k (so the step sees the mean of the k micro-batch
/// losses), optionally clip the global norm, then AdamW.
/// </summary>
public static class TrainStep
{
    /// <summary>Returns the mean micro-batch loss and the gradient norm before clipping. A
    /// non-finite gradient norm skips the update (the loss is still returned).</summary>
    /// <exception cref="ArgumentException">No micro-batches.</exception>
    public static (double Loss, double GradNorm) Run(TrainableModel model, AdamW optimizer,
        IReadOnlyList<TrainingBatch> microBatches, double lr, double? clipNorm = 1.0)
    {
        if (microBatches.Count == 0) throw new ArgumentException("no micro-batches", nameof(microBatches));
        return Run(model, optimizer, microBatches.Count, (i, scale) =>
        {
            double loss = model.Forward(microBatches[i]);
            model.Backward(scale);
            return loss;
        }, lr, clipNorm);
    }

    /// <summary>
    /// The same step for objectives that run their own forward and backward (the continuous families):
    /// <paramref name="forwardBackward"/>(i, scale) runs micro-batch i, adds the gradient of scale·loss and
    /// returns its loss.
    /// </summary>
    /// <exception cref="ArgumentException">No micro-batches.</exception>
    public static (double Loss, double GradNorm) Run(TrainableModel model, AdamW optimizer, int microBatches,
        Func<int, float, double> forwardBackward, double lr, double? clipNorm = 1.0)
    {
        if (microBatches <= 0) throw new ArgumentException("no micro-batches", nameof(microBatches));
        model.ZeroGrad();
        float scale = 1f / microBatches;
        double loss = 0;
        for (int i = 0; i < microBatches; i++) loss += forwardBackward(i, scale) * scale;
        double norm = clipNorm is double c
            ? GradientClipping.ClipGlobalNorm(model.Parameters.Grads, c)
            : GradientClipping.GlobalNorm(model.Parameters.Grads);
        if (double.IsFinite(norm)) optimizer.Step(lr);
        return (loss, norm);
    }
}
