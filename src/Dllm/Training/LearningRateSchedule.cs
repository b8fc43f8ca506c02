namespace Dllm.Training;

/// <summary>Learning rate as a function of the 0-based optimiser step.</summary>
public abstract record LearningRateSchedule
{
    public abstract double At(long step);

    /// <summary>Linear warmup: step s &lt; warmup gives peak·(s + 1)/warmup, so step 0 is not 0 and step warmup−1 is peak.</summary>
    protected static double Warmup(double peak, long step, long warmup) => peak * (step + 1) / warmup;
}

/// <summary>
/// Warmup-stable-decay (the LLaDA pre-training shape, arXiv 2502.09992 §2.2): linear warmup to
/// <see cref="Peak"/> over <see cref="WarmupSteps"/>, constant until TotalSteps − DecaySteps,
/// then linear down to <see cref="Floor"/>, reached at step TotalSteps − 1 and held after.
/// </summary>
public sealed record WarmupStableDecay(double Peak, long WarmupSteps, long TotalSteps, long DecaySteps, double Floor = 0)
    : LearningRateSchedule
{
    public override double At(long step)
    {
        if (WarmupSteps < 0 || DecaySteps < 0 || WarmupSteps + DecaySteps > TotalSteps)
            throw new InvalidOperationException($"warmup {WarmupSteps} + decay {DecaySteps} exceeds total {TotalSteps}");
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step));
        if (step < WarmupSteps) return Warmup(Peak, step, WarmupSteps);
        long decayStart = TotalSteps - DecaySteps;
        if (step < decayStart) return Peak;
        if (step >= TotalSteps) return Floor;
        return Peak + (Floor - Peak) * (step - decayStart + 1) / DecaySteps;
    }
}

/// <summary>
/// Linear warmup then half-cosine from <see cref="Peak"/> to <see cref="Floor"/> at step TotalSteps
/// (Loshchilov &amp; Hutter 2017, without restarts); Floor after.
/// </summary>
public sealed record CosineWithWarmup(double Peak, long WarmupSteps, long TotalSteps, double Floor = 0) : LearningRateSchedule
{
    public override double At(long step)
    {
        if (WarmupSteps < 0 || WarmupSteps >= TotalSteps) throw new InvalidOperationException($"warmup {WarmupSteps} must be below total {TotalSteps}");
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step));
        if (step < WarmupSteps) return Warmup(Peak, step, WarmupSteps);
        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps));
        return Floor + (Peak - Floor) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
