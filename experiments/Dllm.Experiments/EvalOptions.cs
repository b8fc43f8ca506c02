using System.Globalization;
using Dllm.Sampling;

namespace Dllm.Experiments;

/// <summary>
/// How <see cref="TaskEvaluator"/> decodes with a masked diffusion model (an AR model always decodes greedily):
/// the decoding options, plus what only an evaluation has: steps per answer token, the training canvas length
/// and the batch size.
/// </summary>
public sealed record EvalOptions
{
    /// <summary>
    /// How to decode. Each question sets the lengths: GenLength is its answer canvas (|response| + EOS, or up
    /// to <see cref="CanvasLength"/>), Steps comes from <see cref="StepsPerToken"/>, MaxTokens is unset and
    /// EosId is the tokenizer's. BlockLength is clamped to the canvas, so null (the default: pure diffusion,
    /// any order) and any length ≥ the answer are one block; a shorter one must divide every canvas. An
    /// infilling question ignores BlockLength (its masks form one block). Every other knob applies as is.
    /// </summary>
    public DecodingOptions Decoding { get; init; } = new();

    /// <summary>Denoising steps per answer token, in (0, 1]: 1 = one token per step (the reference), 0.5, 0.25, ...</summary>
    public double StepsPerToken { get; init; } = 1;

    /// <summary>
    /// MDM only: pad every canvas (prompt + answer, or an infilling canvas) with EOS up to this many
    /// tokens, the length the model saw in training (SFT pads each batch with EOS to its longest
    /// example, and a bidirectional model conditions on that tail). Null = answer + one EOS.
    /// </summary>
    public int? CanvasLength { get; init; }

    /// <summary>Prompts decoded together per model call; &gt; 0.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>A short label for tables: steps per token, then every decoding choice that is not the default
    /// ("steps/token 1, block 5, threshold 0.9, dual cache").</summary>
    public string Label
    {
        get
        {
            DecodingOptions d = Decoding, plain = new();
            var parts = new List<string> { $"steps/token {Num(StepsPerToken, "0.###")}", d.BlockLength is int b ? $"block {b}" : "one block" };
            if (d.CustomOrdering is not null || d.Ordering != plain.Ordering) parts.Add($"{d.CreateOrdering().Name} ordering");
            if (d.Temperature > 0) parts.Add($"temperature {Num(d.Temperature, "0.##")}");
            if (d.CfgScale > 0) parts.Add($"cfg {Num(d.CfgScale, "0.##")}");
            parts.Add(d.Commit switch
            {
                CommitRule.Threshold => $"threshold {Num(d.Threshold, "0.##")}",
                CommitRule.Factor => $"factor {Num(d.Factor, "0.##")}",
                CommitRule.Dream => "dream schedule",
                _ => "",
            });
            if (d.AlgTemp > 0) parts.Add($"alg_temp {Num(d.AlgTemp, "0.##")}");
            if (d.Cache != CacheMode.None) parts.Add($"{d.Cache.ToString().ToLowerInvariant()} cache");
            if (d.EarlyStop) parts.Add("early stop");
            if (d.Remdm is { } loop) parts.Add($"ReMDM {loop.Count}");
            return string.Join(", ", parts.Where(p => p.Length > 0));
        }
    }

    /// <summary>The options for an answer canvas of <paramref name="genLength"/> tokens.</summary>
    /// <exception cref="DecodingOptionException">The block length is not positive or does not divide the canvas.</exception>
    public DecodingOptions ForAnswer(int genLength, int eosId)
    {
        int block = Math.Min(Decoding.BlockLength ?? genLength, genLength);
        if (block <= 0) throw new DecodingOptionException(KnobNames.BlockLength, $"{KnobNames.BlockLength} must be positive, got {block}");
        if (genLength % block != 0)
            throw new DecodingOptionException(KnobNames.BlockLength, $"{KnobNames.BlockLength} {block} does not divide the answer canvas of {genLength} tokens");
        int blocks = genLength / block;
        int steps = Math.Max(1, (int)Math.Round(genLength * StepsPerToken / blocks)) * blocks;
        return Decoding with { GenLength = genLength, BlockLength = block, Steps = steps, MaxTokens = null, EosId = eosId };
    }

    /// <summary>The options for an infilling canvas with <paramref name="masks"/> masks (one block).</summary>
    public DecodingOptions ForInfill(int masks, int eosId)
        => Decoding with { GenLength = 1, BlockLength = null, Steps = Math.Max(1, (int)Math.Round(masks * StepsPerToken)), MaxTokens = null, EosId = eosId };

    private static string Num(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
}
