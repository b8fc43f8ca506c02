using System.CommandLine;
using System.Diagnostics;
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
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Hugging Face LLaDA directory (config.json, *.safetensors, tokenizer.json)", Required = true };
        var prompt = new Option<string?>("--prompt", "-p") { Description = "User message; the LLaDA chat template is applied" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as comma-separated token ids, used as is (no template)" };
        var raw = new Option<bool>("--raw") { Description = "Encode --prompt as plain text without the chat template (base models)" };
        var output = new Option<string>("--output") { Description = "text | ids (generated ids, comma-separated, one line)", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "ids");
        var genLength = new Option<int>("--gen-length") { Description = "Answer length in tokens", DefaultValueFactory = _ => 128 };
        var steps = new Option<int>("--steps") { Description = "Denoising steps (a multiple of the number of blocks)", DefaultValueFactory = _ => 128 };
        var blockLength = new Option<int>("--block-length") { Description = "Semi-autoregressive block length (divides --gen-length)", DefaultValueFactory = _ => 32 };
        var temperature = new Option<double>("--temperature") { Description = "Gumbel temperature; 0 = greedy", DefaultValueFactory = _ => 0.0 };
        var cfgScale = new Option<double>("--cfg-scale") { Description = "Classifier-free guidance scale; 0 = off", DefaultValueFactory = _ => 0.0 };
        var remasking = new Option<string>("--remasking") { Description = "low_confidence | random", DefaultValueFactory = _ => "low_confidence" };
        remasking.AcceptOnlyFromAmong("low_confidence", "random");
        var seed = new Option<int>("--seed") { Description = "Seed for Gumbel noise and random remasking", DefaultValueFactory = _ => 0 };
        var threads = ThreadsOption.Create();
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print timing and forward-pass count to stderr" };

        var cmd = new Command("generate", "Generate an answer by masked diffusion (LLaDA generate.py semantics)")
        {
            model, prompt, promptIds, raw, output, genLength, steps, blockLength, temperature, cfgScale, remasking, seed, threads, verbose,
        };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            string? text = r.GetValue(prompt), ids = r.GetValue(promptIds);
            if ((text is null) == (ids is null)) throw new ArgumentException("give exactly one of --prompt and --prompt-ids");
            var options = new GenerationOptions
            {
                GenLength = r.GetValue(genLength),
                Steps = r.GetValue(steps),
                BlockLength = Math.Min(r.GetValue(blockLength), r.GetValue(genLength)),
                Temperature = r.GetValue(temperature),
                CfgScale = r.GetValue(cfgScale),
                Remasking = r.GetValue(remasking) == "random" ? RemaskingKind.Random : RemaskingKind.LowConfidence,
                Seed = r.GetValue(seed),
            };
            options.Validate();
            string dir = r.GetValue(model)!.FullName;
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"model directory '{dir}' does not exist");

            using LladaModel lm = LladaModel.Load(dir);
            ITokenizer? tokenizer = null;
            IReadOnlyList<int> promptTokens;
            if (ids is not null) promptTokens = ParseIds(ids, lm.VocabSize);
            else
            {
                tokenizer = TokenizerLoader.Load(dir);
                promptTokens = r.GetValue(raw)
                    ? tokenizer.Encode(text!)
                    : ChatTemplate.Apply(tokenizer, [new ChatMessage("user", text!)]);
            }

            var sampler = new ReferenceSampler(lm, lm.Config.MaskTokenId);
            var sw = Stopwatch.StartNew();
            GenerationResult result = sampler.Generate(promptTokens, options);
            sw.Stop();
            int[] answer = result.Answer.ToArray();
            if (r.GetValue(output) == "ids") Console.WriteLine(string.Join(",", answer));
            else
            {
                tokenizer ??= TokenizerLoader.Load(dir);
                IReadOnlyList<int> kept = GeneratedText.TrimAtEos(answer, lm.Config.EosTokenId, tokenizer.TokenToId("<|eot_id|>"));
                Console.WriteLine(tokenizer.Decode(kept, skipSpecialTokens: true));
            }
            if (r.GetValue(verbose))
                Console.Error.WriteLine($"{options.GenLength} tokens, {result.ForwardPasses} forward passes, {sw.Elapsed.TotalSeconds:F2} s, {options.GenLength / sw.Elapsed.TotalSeconds:F1} tokens/s, threads {Parallelism.Threads}");
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
