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
/// <para>Block diffusion models: blocks of the model's block_size, the exact KV cache, early stop at EOS; SDAR:
/// generate.py's low_confidence_dynamic at 0.85; Fast-dLLM v2: threshold 0.9 in sub-blocks of 8 (its
/// small_block_size default; its generate() defaults threshold to 1, its demos use 0.9); LLaDA2: its generate()'s
/// threshold decoding at its default 0.95 (modeling_llada2_moe.py: all masked positions above the threshold if at
/// least the step's share of the block, else that share, as <c>dynamic</c> does).</para>
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
        if (config.Kind == ModelKind.BlockDiffusion)
        {
            // Decoded along the model's own grid, with its exact cache, stopping at EOS (any answer length).
            knobs.BlockLength = config.BlockSize;
            knobs.Set("cache", "prefix");
            knobs.Set("early_stop", "true");
            if (config.Family == ModelFamily.Sdar)
            {
                knobs.Set("commit", "dynamic"); // generate.py: low_confidence_dynamic, confidence_threshold 0.85
                knobs.Set("threshold", "0.85");
            }
            else if (config.Family == ModelFamily.FastDllmV2)
            {
                knobs.Set("commit", "threshold"); // generate(): threshold with the argmax always, sub-blocks of 8
                knobs.Set("threshold", "0.9");
                knobs.Set("sub_block_length", "8");
            }
            else if (config.Family == ModelFamily.Llada2)
            {
                knobs.Set("commit", "dynamic"); // generate(): threshold 0.95, else the step's get_num_transfer_tokens share
                knobs.Set("threshold", "0.95");
            }
        }
        return knobs;
    }
}
