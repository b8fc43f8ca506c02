using Dllm.Model;

namespace Dllm.Chat;

/// <summary>
/// The decoding each family's authors recommend, as the knob defaults that <c>generate</c>, <c>chat</c>
/// and <c>serve</c> start from (flags and request fields then override them).
/// </summary>
/// <remarks>
/// <para>LLaDA and its relatives: LLaDA's generate.py / chat.py (low-confidence ordering, the fixed
/// schedule, blocks of 32, greedy): the <see cref="DecodingKnobs"/> defaults.</para>
/// <para>Dream: its README's <c>diffusion_generate(steps = max_new_tokens, temperature = 0.2, top_p = 0.95,
/// alg = "entropy", alg_temp = 0)</c>: entropy ordering, Dream's time schedule, one block (Dream decodes
/// the whole canvas at once). top_p is not implemented here, so sampling is from the full distribution.</para>
/// </remarks>
public static class RecommendedDecoding
{
    /// <summary>A fresh set of knobs with the recommended defaults of <paramref name="config"/>'s family.</summary>
    public static DecodingKnobs For(ModelConfig config)
    {
        var knobs = new DecodingKnobs();
        if (config.Family == ModelFamily.Dream)
        {
            knobs.Set("remasking", "entropy");
            knobs.Set("commit", "dream");
            knobs.Set("temperature", "0.2");
            knobs.BlockLength = int.MaxValue; // clamped to the canvas: one block
        }
        return knobs;
    }
}
