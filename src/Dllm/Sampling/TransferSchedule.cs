namespace Dllm.Sampling;

/// <summary>
/// How many tokens generate.py commits at each step of a block: with N masked tokens at the block's
/// start and S steps, every step commits ⌊N/S⌋ and the first N mod S steps one more
/// (get_num_transfer_tokens). The counts sum to N, so the block ends fully unmasked.
/// </summary>
public static class TransferSchedule
{
    /// <summary>The per-step counts; steps with nothing to commit get 0 (when N &lt; S).</summary>
    public static int[] Counts(int maskedCount, int steps)
    {
        if (maskedCount < 0) throw new ArgumentOutOfRangeException(nameof(maskedCount), maskedCount, "must be ≥ 0");
        if (steps <= 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, "must be positive");
        var counts = new int[steps];
        int baseCount = maskedCount / steps, remainder = maskedCount % steps;
        for (int s = 0; s < steps; s++) counts[s] = baseCount + (s < remainder ? 1 : 0);
        return counts;
    }

    /// <summary>The count of step <paramref name="step"/> alone (0 past the last step): Counts(N, S)[step].</summary>
    public static int CountAt(int maskedCount, int steps, int step)
    {
        if (maskedCount < 0) throw new ArgumentOutOfRangeException(nameof(maskedCount), maskedCount, "must be ≥ 0");
        if (steps <= 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, "must be positive");
        if (step < 0 || step >= steps) return 0;
        return maskedCount / steps + (step < maskedCount % steps ? 1 : 0);
    }
}
