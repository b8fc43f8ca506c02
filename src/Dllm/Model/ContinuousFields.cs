namespace Dllm.Model;

/// <summary>The config.json fields of the continuous diffusion families (<see cref="ModelKind.DiffusionLm"/>,
/// <see cref="ModelKind.DiffuSeq"/>, <see cref="ModelKind.SsdLm"/>), kept apart from <see cref="ModelConfig"/>'s
/// own checks.</summary>
internal static class ContinuousFields
{
    /// <summary>The continuous families' fields: present and in range for those kinds (diffusion_steps in
    /// 1..100000, noise_schedule sqrt or cosine, weight_tying for Diffusion-LM/DiffuSeq whose rounding reads
    /// the embedding as the head, simplex_k and ssd_block_size for SSD-LM only, the LLaDA layout), absent for the others.</summary>
    internal static void Validate(ModelConfig c, Func<string, InvalidDataException> bad)
    {
        if (!c.IsContinuous)
        {
            if (c.DiffusionSteps != 0 || c.NoiseSchedule is not null || c.SimplexK != 0 || c.SsdBlockSize != 0)
                throw bad($"diffusion_steps, noise_schedule, simplex_k and ssd_block_size belong to the continuous families; model_kind \"{c.KindName}\" has none");
            return;
        }
        if (c.Family != ModelFamily.Llada) throw bad($"model_kind \"{c.KindName}\" needs the LLaDA layout, not {c.Spec.Name}");
        if (c.DiffusionSteps is < 1 or > 100_000) throw bad($"diffusion_steps must lie in 1..100000 for model_kind \"{c.KindName}\", found {c.DiffusionSteps}");
        if (c.NoiseSchedule is not ("sqrt" or "cosine")) throw bad($"noise_schedule must be \"sqrt\" or \"cosine\", found {(c.NoiseSchedule is null ? "none" : $"\"{c.NoiseSchedule}\"")}");
        if (c.Kind == ModelKind.SsdLm)
        {
            if (!(c.SimplexK > 0) || !double.IsFinite(c.SimplexK)) throw bad($"simplex_k must be a finite positive number for ssd_lm, found {c.SimplexK}");
            if (c.SsdBlockSize < 1) throw bad($"ssd_block_size must be positive for ssd_lm, found {c.SsdBlockSize}");
        }
        else
        {
            if (!c.WeightTying) throw bad($"model_kind \"{c.KindName}\" rounds through the word embeddings: it needs weight_tying true");
            if (c.SimplexK != 0 || c.SsdBlockSize != 0) throw bad($"simplex_k and ssd_block_size belong to ssd_lm, not \"{c.KindName}\"");
        }
    }
}
