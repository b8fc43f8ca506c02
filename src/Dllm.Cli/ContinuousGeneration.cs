using System.Diagnostics;
using Dllm.Chat;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;

namespace Dllm.Cli;

/// <summary>
/// <c>dllm generate</c> on a continuous-family checkpoint (Diffusion-LM, DiffuSeq, SSD-LM): their own
/// samplers, with the knobs that mean something for them — gen_length (or max_tokens; default 32) the answer length,
/// steps the reverse steps (per block for SSD-LM; default 200, at most the trained T), block_length
/// SSD-LM's block (refused for the others), seed — and a refusal for every other knob. With -v each reverse step's rounded answer
/// is printed to stderr (the live view). A DiffuSeq prompt gets the chat template it was trained with
/// unless --raw; Diffusion-LM and SSD-LM were trained on plain text, so their prompts are raw text always.
/// </summary>
internal static class ContinuousGeneration
{
    /// <summary>The knobs each family takes; block_length is SSD-LM's block only.</summary>
    private static string[] Applicable(ModelConfig c)
        => c.Kind == ModelKind.SsdLm ? ["gen_length", "max_tokens", "steps", "block_length", "seed"] : ["gen_length", "max_tokens", "steps", "seed"];

    public static int Run(string dir, ModelConfig config, string? text, string? ids, bool raw, bool infill, DecodingKnobs knobs,
        IEnumerable<string> givenKnobs, bool printIds, bool verbose)
    {
        if (infill) throw new NotSupportedException($"--infill needs a masked diffusion model; '{dir}' is {config.KindName}");
        string[] applicable = Applicable(config);
        string? other = givenKnobs.FirstOrDefault(k => !applicable.Contains(k));
        if (other is not null)
            throw new ArgumentException($"{KnobOptions.Flag(other)} does not apply to a {config.KindName} model (it takes {string.Join(", ", applicable.Select(KnobOptions.Flag))})");
        using Transformer lm = Transformer.Load(dir);
        ITokenizer tokenizer = TokenizerLoader.Load(dir);
        IReadOnlyList<int> prompt = ids is not null ? GenerateCommand.ParseIds(ids, lm.VocabSize)
            : config.Kind == ModelKind.DiffuSeq && !raw ? ChatTemplate.Apply(tokenizer, [new ChatMessage("user", text!)])
            : tokenizer.Encode(text!);
        int length = knobs.GenLength ?? knobs.MaxTokens ?? 32;
        var options = new ContinuousDecodingOptions
        {
            AnswerLength = length, Steps = Math.Min(knobs.Steps ?? 200, config.DiffusionSteps), BlockSize = knobs.BlockLength,
            Seed = knobs.AsSet.Seed,
            OnStep = verbose ? s => Console.Error.WriteLine(
                $"step {s.Step,4}/{s.Steps}{(config.Kind == ModelKind.SsdLm ? $" block {s.Block}" : "")}: {GeneratedText.Answer(tokenizer, s.Answer, config.EosTokenId).Text}") : null,
        };
        var sw = Stopwatch.StartNew();
        ContinuousResult result = config.Kind == ModelKind.SsdLm
            ? new SimplexDiffusionSampler(lm).Generate(prompt, options)
            : new EmbeddingDiffusionSampler(lm).Generate(prompt, options);
        sw.Stop();
        int[] answer = result.Answer[..Math.Min(result.Answer.Length, knobs.MaxTokens ?? int.MaxValue)];
        Console.WriteLine(printIds ? string.Join(",", answer) : GeneratedText.Answer(tokenizer, answer, config.EosTokenId).Text);
        if (verbose)
            Console.Error.WriteLine($"{config.KindName}: {answer.Length} tokens, {result.ForwardPasses} forward passes, {sw.Elapsed.TotalSeconds:F2} s");
        return 0;
    }
}
