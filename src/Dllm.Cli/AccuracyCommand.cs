using System.CommandLine;
using Dllm.Chat;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Cli;

/// <summary>
/// <c>dllm accuracy</c>: exact-match accuracy of a chat model on held-out instructions
/// (<c>{"task","prompt","response"}</c> JSONL, e.g. data/instructions-test.jsonl), per task and overall.
/// Decoding takes every knob flag of <c>dllm generate</c> (<see cref="KnobOptions"/>); only the lengths
/// default differently: 48 positions in 3 blocks of 16 (a block diffusion model: its own blocks, as its family
/// recommends), one token per step (the answers are short).
/// An autoregressive checkpoint (the AR twin of a recipe) is scored too: greedy, at most --gen-length tokens.
/// </summary>
internal static class AccuracyCommand
{
    /// <summary>Answer canvas and block when the flags leave them out (steps then default to the canvas).</summary>
    private const int DefaultGenLength = 48, DefaultBlockLength = 16;

    public static Command Create()
    {
        var model = ModelOption.Create();
        var data = new Option<FileInfo>("--data") { Description = "JSONL: {\"task\", \"prompt\", \"response\"} per line", Required = true };
        var knobOptions = new KnobOptions("max_tokens");
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16, Description = "Prompts denoised together" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print every case with the model's answer" };
        var threads = ThreadsOption.Create();
        var cmd = new Command("accuracy", $"Exact-match accuracy of a chat model on prompt/response JSONL, per task. Decoding flags as in generate, except the defaults: --gen-length {DefaultGenLength}, --block-length {DefaultBlockLength}, --steps = gen-length")
        {
            model, data, batch, verbose, threads,
        };
        foreach (Option o in knobOptions.All) cmd.Options.Add(o);
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            string dir = ModelOption.Resolve(r.GetValue(model));
            ModelConfig config = ModelOption.Config(dir);
            bool autoregressive = config.Kind == ModelKind.Autoregressive;
            if (!autoregressive) ModelOption.ResolveDiffusion(r.GetValue(model)); // refuses continuous checkpoints
            List<ExactMatchCase> cases = ExactMatchEvaluator.Load(r.GetValue(data)!.FullName);
            // The family's recommended decoding, with this command's lengths (a block diffusion model keeps its own blocks).
            DecodingKnobs defaults = RecommendedDecoding.For(config);
            defaults.GenLength = DefaultGenLength;
            if (config.Kind != ModelKind.BlockDiffusion) defaults.BlockLength = DefaultBlockLength;
            DecodingKnobs knobs = knobOptions.Read(r, defaults);
            using Transformer lm = Transformer.Load(dir);
            DecodingOptions options = knobs.Build(lm.Config.EosTokenId);
            ITokenizer tok = TokenizerLoader.Load(dir);
            bool v = r.GetValue(verbose);
            List<ExactMatchOutcome> outcomes = ExactMatchEvaluator.Run(lm, lm.Config.MaskTokenId, tok, cases, options, r.GetValue(batch), o =>
            {
                if (v) Console.WriteLine($"{(o.Correct ? "ok  " : "MISS")} [{o.Case.Task}] {o.Case.Prompt} → {o.Answer}{(o.Correct ? "" : $"   (expected {o.Case.Expected})")}");
            }, autoregressive: autoregressive);
            Console.WriteLine($"{"task",-10} {"correct",9} {"accuracy",9}");
            foreach (var g in outcomes.GroupBy(o => o.Case.Task).OrderBy(g => g.Key))
                Console.WriteLine($"{g.Key,-10} {g.Count(o => o.Correct),4}/{g.Count(),-4} {100.0 * g.Count(o => o.Correct) / g.Count(),8:F1}%");
            int right = outcomes.Count(o => o.Correct);
            Console.WriteLine($"{"all",-10} {right,4}/{outcomes.Count,-4} {100.0 * right / outcomes.Count,8:F1}%");
            return 0;
        }));
        return cmd;
    }
}
