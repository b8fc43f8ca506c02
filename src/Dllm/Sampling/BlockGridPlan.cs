namespace Dllm.Sampling;

/// <summary>
/// How a prompt is laid out and decoded on a block diffusion model's grid (blocks of B positions aligned at
/// position 0; <see cref="Dllm.Model.IDenoisingModel.DiffusionBlockSize"/>), as SDAR's
/// <c>block_diffusion_generate</c> and LLaDA2's <c>generate</c> do: the canvas runs to the first block boundary
/// at or after prompt + gen_length (the tail past gen_length is decoded and then cut), the first decoded block
/// is the grid block holding the prompt's end (its prompt positions stay given), and every later block is
/// decoded after the one before it. With <see cref="DecodingOptions.SubBlockLength"/> (Fast-dLLM v2) each grid
/// block is decoded in sub-blocks, its first position first and alone when it belongs to the answer.
/// </summary>
internal static class BlockGridPlan
{
    /// <summary>Canvas length for a prompt of <paramref name="promptLength"/>: ⌈(P + G) / B⌉·B.</summary>
    public static int CanvasLength(int promptLength, int genLength, int grid)
        => (int)(((long)promptLength + genLength + grid - 1) / grid * grid);

    /// <summary>The blocks the sampler decodes, in order (overlapping only where a sub-block follows its block's AR position).</summary>
    public static (int Start, int End)[] Blocks(int promptLength, int canvasLength, int grid, int? subBlock)
    {
        var blocks = new List<(int, int)>();
        for (int s = promptLength / grid * grid; s < canvasLength; s += grid)
        {
            if (subBlock is not int b) { blocks.Add((s, s + grid)); continue; }
            if (s >= promptLength) blocks.Add((s, s + 1)); // Fast-dLLM v2: the previous block predicts this position
            for (int j = s; j < s + grid; j += b) blocks.Add((j, Math.Min(j + b, s + grid)));
        }
        return [.. blocks];
    }

    /// <summary>
    /// Steps per block: <see cref="DecodingOptions.Steps"/> spread over the ⌈G / B⌉ blocks of a gen_length answer
    /// (so the defaults of a whole-canvas model, steps = gen_length, mean one token per step here too).
    /// </summary>
    /// <exception cref="DecodingOptionException">block_length set and not the model's block size, sub_block_length
    /// above it, or steps not a multiple of the block count.</exception>
    public static int StepsPerBlock(DecodingOptions o, int grid)
    {
        // Front ends clamp the block length to gen_length; a shorter answer than a block is still one block.
        if (o.BlockLength is int bl && bl != grid && !(bl == o.GenLength && o.GenLength < grid))
            throw new DecodingOptionException(KnobNames.BlockLength,
                $"this block diffusion model decodes blocks of {grid} positions (its block_size); {KnobNames.BlockLength} {bl} cannot change that");
        if (o.SubBlockLength is int sb && sb > grid)
            throw new DecodingOptionException(KnobNames.SubBlockLength, $"{KnobNames.SubBlockLength} {sb} exceeds the model's block size {grid}");
        int blocks = (o.GenLength + grid - 1) / grid;
        if (o.Steps % blocks != 0)
            throw new DecodingOptionException(KnobNames.Steps,
                $"{KnobNames.Steps} ({o.Steps}) must be a multiple of the number of blocks ({blocks} = ⌈{KnobNames.GenLength} / block size {grid}⌉)");
        return o.Steps / blocks;
    }
}
