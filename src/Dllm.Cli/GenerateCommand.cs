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
        var remasking = new Option<string>("--remasking") { Description = "Ordering: low_confidence | random | topk_margin | entropy", DefaultValueFactory = _ => "low_confidence" };
        remasking.AcceptOnlyFromAmong("low_confidence", "random", "topk_margin", "entropy");
        var commit = new Option<string>("--commit") { Description = "How many to unmask per step: schedule (generate.py) | threshold | factor (Fast-dLLM) | dream", DefaultValueFactory = _ => "schedule" };
        commit.AcceptOnlyFromAmong("schedule", "threshold", "factor", "dream");
        var threshold = new Option<double>("--threshold") { Description = "Confidence threshold for --commit threshold", DefaultValueFactory = _ => 0.9 };
        var factor = new Option<double>("--factor") { Description = "f of the factor rule for --commit factor", DefaultValueFactory = _ => 1.0 };
        var algTemp = new Option<double>("--alg-temp") { Description = "Dream alg_temp: sample positions from softmax(confidence/alg_temp); 0 = top-k", DefaultValueFactory = _ => 0.0 };
        var cache = new Option<string>("--cache") { Description = "KV cache: none | prefix | dual (Fast-dLLM, refreshed at each block start)", DefaultValueFactory = _ => "none" };
        cache.AcceptOnlyFromAmong("none", "prefix", "dual");
        var refresh = new Option<int>("--refresh-interval") { Description = "With --cache: also refresh every N steps (0 = only at block starts)", DefaultValueFactory = _ => 0 };
        var earlyStop = new Option<bool>("--early-stop") { Description = "Stop once the answer ends in EOS and nothing left of it is masked" };
        var remdm = new Option<int>("--remdm") { Description = "ReMDM loop: re-mask this many low-confidence committed tokens per late step (0 = off)", DefaultValueFactory = _ => 0 };
        var infill = new Option<string?>("--infill") { Description = "Infill a template: \"The [MASK:5] sat on the [MASK:3].\" (no chat template)" };
        var seed = new Option<int>("--seed") { Description = "Seed for Gumbel noise and random remasking", DefaultValueFactory = _ => 0 };
        var threads = ThreadsOption.Create();
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print timing and forward-pass count to stderr" };

        var cmd = new Command("generate", "Generate an answer by masked diffusion (LLaDA generate.py semantics)")
        {
            model, prompt, promptIds, raw, infill, output, genLength, steps, blockLength, temperature, cfgScale, remasking,
            commit, threshold, factor, algTemp, cache, refresh, earlyStop, remdm, seed, threads, verbose,
        };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            string? text = r.GetValue(prompt), ids = r.GetValue(promptIds);
            string? template = r.GetValue(infill);
            if ((text is null ? 0 : 1) + (ids is null ? 0 : 1) + (template is null ? 0 : 1) != 1)
                throw new ArgumentException("give exactly one of --prompt, --prompt-ids and --infill");
            var options = new GenerationOptions
            {
                GenLength = r.GetValue(genLength),
                Steps = r.GetValue(steps),
                BlockLength = Math.Min(r.GetValue(blockLength), r.GetValue(genLength)),
                Temperature = r.GetValue(temperature),
                CfgScale = r.GetValue(cfgScale),
                Remasking = r.GetValue(remasking) switch
                {
                    "random" => RemaskingKind.Random,
                    "topk_margin" => RemaskingKind.TopKMargin,
                    "entropy" => RemaskingKind.Entropy,
                    _ => RemaskingKind.LowConfidence,
                },
                Seed = r.GetValue(seed),
            };
            options.Validate();
            int remdmCount = r.GetValue(remdm);
            if (remdmCount < 0) throw new ArgumentException($"--remdm must be ≥ 0, got {remdmCount}");
            string dir = r.GetValue(model)!.FullName;
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"model directory '{dir}' does not exist");
            // A causal (AR) checkpoint under the bidirectional diffusion sampler would answer silently wrong.
            if (Dllm.Training.TrainingCheckpoint.IsAutoregressive(Dllm.Training.TrainingCheckpoint.ObjectiveOf(dir)))
                throw new NotSupportedException($"'{dir}' is an autoregressive checkpoint; the diffusion sampler needs a masked diffusion model (score AR models with `dllm experiment eval` or `dllm eval`)");

            using LladaModel lm = LladaModel.Load(dir);
            ITokenizer? tokenizer = null;
            IReadOnlyList<int> promptTokens = [];
            if (template is not null) { }
            else if (ids is not null) promptTokens = ParseIds(ids, lm.VocabSize);
            else
            {
                tokenizer = TokenizerLoader.Load(dir);
                promptTokens = r.GetValue(raw)
                    ? tokenizer.Encode(text!)
                    : ChatTemplate.Apply(tokenizer, [new ChatMessage("user", text!)]);
            }

            var decoding = new DecodingOptions
            {
                Generation = options,
                Commit = r.GetValue(commit) switch
                {
                    "threshold" => CommitRule.Threshold,
                    "factor" => CommitRule.Factor,
                    "dream" => CommitRule.Dream,
                    _ => CommitRule.Schedule,
                },
                Threshold = r.GetValue(threshold),
                Factor = r.GetValue(factor),
                AlgTemp = r.GetValue(algTemp),
                Cache = r.GetValue(cache) switch { "prefix" => CacheMode.Prefix, "dual" => CacheMode.Dual, _ => CacheMode.None },
                RefreshInterval = r.GetValue(refresh),
                EarlyStop = r.GetValue(earlyStop),
                EosId = lm.Config.EosTokenId,
                Remdm = remdmCount > 0 ? new RemdmLoop { Count = remdmCount } : null,
            };
            decoding.Validate();

            var sampler = new DiffusionSampler(lm, lm.Config.MaskTokenId);
            var sw = Stopwatch.StartNew();
            GenerationResult result;
            if (template is not null)
            {
                tokenizer = TokenizerLoader.Load(dir);
                InfillCanvas canvas = Infill.Build(Infill.Parse(template), tokenizer.Encode, lm.Config.MaskTokenId,
                    tokenizer.BosId is int bos ? [bos] : null);
                result = sampler.Fill(canvas, decoding);
            }
            else result = sampler.Generate(promptTokens, decoding);
            sw.Stop();
            int[] answer = template is null ? result.Answer.ToArray() : result.Canvas;
            if (r.GetValue(output) == "ids") Console.WriteLine(string.Join(",", answer));
            else
            {
                tokenizer ??= TokenizerLoader.Load(dir);
                IReadOnlyList<int> kept = GeneratedText.TrimAtEos(answer, lm.Config.EosTokenId, tokenizer.TokenToId("<|eot_id|>"));
                Console.WriteLine(tokenizer.Decode(kept, skipSpecialTokens: true));
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
