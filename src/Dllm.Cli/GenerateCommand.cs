using System.CommandLine;
using System.Diagnostics;
using Dllm.Chat;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tensors;
using Dllm.Text;

namespace Dllm.Cli;

/// <summary><c>dllm generate</c>: one prompt in, one answer out, with the reference sampler's knobs.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "User message; the model's chat template (tokenizer_config.json) or the built-in LLaDA one is applied" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as comma-separated token ids, used as is (no template)" };
        var raw = new Option<bool>("--raw") { Description = "Encode --prompt as plain text without the chat template (base models)" };
        var output = new Option<string>("--output") { Description = "text | ids (generated ids, comma-separated, one line)", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "ids");
        var knobOptions = new KnobOptions();
        var infill = new Option<string?>("--infill") { Description = "Infill a template: \"The [MASK:5] sat on the [MASK:3].\" (no chat template)" };
        var threads = ThreadsOption.Create();
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print timing and forward-pass count to stderr (continuous families: every reverse step's answer too)" };

        var cmd = new Command("generate", "Generate an answer by masked diffusion (LLaDA generate.py semantics)")
        {
            model, prompt, promptIds, raw, infill, output, threads, verbose,
        };
        foreach (Option o in knobOptions.All) cmd.Options.Add(o);
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            string? text = r.GetValue(prompt), ids = r.GetValue(promptIds);
            string? template = r.GetValue(infill);
            if ((text is null ? 0 : 1) + (ids is null ? 0 : 1) + (template is null ? 0 : 1) != 1)
                throw new ArgumentException("give exactly one of --prompt, --prompt-ids and --infill");
            string dir = ModelOption.Resolve(r.GetValue(model));
            if (ModelOption.ContinuousConfig(dir) is ModelConfig continuous)
                return ContinuousGeneration.Run(dir, continuous, text, ids, r.GetValue(raw), template is not null, knobOptions.Read(r),
                    knobOptions.Given(r), r.GetValue(output) == "ids", r.GetValue(verbose));
            dir = ModelOption.ResolveDiffusion(r.GetValue(model));
            DecodingKnobs knobs = knobOptions.Read(r, ModelOption.RecommendedKnobs(dir));

            using Transformer lm = Transformer.Load(dir);
            ITokenizer? tokenizer = null;
            IReadOnlyList<int> promptTokens = [];
            bool printIds = r.GetValue(output) == "ids";
            if (template is not null) { }
            else if (ids is not null) promptTokens = ParseIds(ids, lm.VocabSize);
            else
            {
                tokenizer = TokenizerLoader.Load(dir);
                promptTokens = r.GetValue(raw)
                    ? tokenizer.Encode(text!)
                    : ChatTemplate.Apply(tokenizer, [new ChatMessage("user", text!)]);
            }

            var sampler = new DiffusionSampler(lm, lm.Config.MaskTokenId);
            DecodingOptions decoding;
            GenerationResult result;
            var sw = new Stopwatch();
            if (template is not null)
            {
                tokenizer = TokenizerLoader.Load(dir);
                InfillCanvas canvas = Infill.Build(template, tokenizer.Encode, lm.Config.MaskTokenId, tokenizer.BosId, lm.MaxSequenceLength);
                decoding = knobs.BuildForInfill(canvas.Tokens.Count(t => t == lm.Config.MaskTokenId), lm.Config.EosTokenId);
                sw.Start();
                result = sampler.Fill(canvas, decoding);
            }
            else
            {
                decoding = knobs.Build(lm.Config.EosTokenId);
                // Fail before decoding, not after it: the answer is printed as text only with a tokenizer.
                if (tokenizer is null && !printIds)
                    tokenizer = TokenizerLoader.Exists(dir) ? TokenizerLoader.Load(dir)
                        : throw new ArgumentException($"{dir} has no tokenizer to print the answer as text: add --output ids");
                sw.Start();
                result = sampler.Generate(promptTokens, decoding);
            }
            sw.Stop();
            // An answer is capped at --max-tokens; an infilled canvas is printed whole.
            int[] answer = template is null ? result.Answer[..decoding.MaxAnswerTokens].ToArray() : result.Canvas;
            if (printIds) Console.WriteLine(string.Join(",", answer));
            else
            {
                tokenizer ??= TokenizerLoader.Load(dir);
                Console.WriteLine(GeneratedText.Answer(tokenizer, answer, lm.Config.EosTokenId).Text);
            }
            if (r.GetValue(verbose))
                Console.Error.WriteLine($"{answer.Length} tokens, {result.ForwardPasses} forward passes ({result.WindowForwards} windowed, NFE {result.Nfe}{(result.StoppedEarly ? ", stopped early" : "")}), {sw.Elapsed.TotalSeconds:F2} s, {answer.Length / sw.Elapsed.TotalSeconds:F1} tokens/s, threads {Parallelism.Threads}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>Parses "5,17,42" into ids, each checked against the vocabulary.</summary>
    internal static int[] ParseIds(string text, int vocabSize)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new ArgumentException("--prompt-ids is empty");
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], out ids[i])) throw new ArgumentException($"--prompt-ids: '{parts[i]}' is not an integer token id");
            if ((uint)ids[i] >= (uint)vocabSize) throw new ArgumentException($"--prompt-ids: token id {ids[i]} is outside the vocabulary [0, {vocabSize})");
        }
        return ids;
    }
}
