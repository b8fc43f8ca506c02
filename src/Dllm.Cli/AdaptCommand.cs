using System.CommandLine;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Cli;

/// <summary><c>dllm adapt</c>: an autoregressive checkpoint continues training as a masked or block diffusion model
/// (<see cref="Trainer.Adapt"/>: DiffuLLaMA's shift and mask annealing, Fast-dLLM v2's complementary masks), or, on
/// prompt/response pairs, with the SFT objective of the target kind (<see cref="Trainer.AdaptSft"/>).</summary>
internal static class AdaptCommand
{
    public static Command Create()
    {
        var from = new Option<DirectoryInfo>("--from") { Description = "Autoregressive checkpoint (dllm train --objective ar, or a Qwen2/Qwen3 directory)", Required = true };
        var to = new Option<string>("--to") { Description = "mdm (masked diffusion) | bd3 (block diffusion)", Required = true };
        to.AcceptOnlyFromAmong("mdm", "bd3");
        var data = new Option<FileInfo[]>("--data") { Description = "UTF-8 text file(s), or *.jsonl with one {\"text\": ...} document per line, or one *.jsonl of {\"prompt\",\"response\"} pairs (adapted with the SFT objective)", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Checkpoint directory of the adapted model", Required = true };
        var blockSize = new Option<int>("--block-size") { DefaultValueFactory = _ => 0, Description = "Block size of --to bd3 (divides --seq-len)" };
        var anneal = new Option<int>("--anneal-steps") { DefaultValueFactory = _ => 0, Description = "--to mdm: widen attention from causal to bidirectional over this many steps" };
        var complementary = new Option<bool>("--complementary") { Description = "Pair every mask with its complement (every token gets a loss each step)" };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 500, Description = "Optimizer steps" };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16, Description = "Sequences per micro-batch" };
        var seqLen = new Option<int>("--seq-len") { DefaultValueFactory = _ => 128, Description = "Tokens per sequence" };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 1e-4, Description = "Peak learning rate (warmup-stable-decay)" };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 20, Description = "Warmup steps" };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var saveEvery = new Option<int>("--save-every") { DefaultValueFactory = _ => 200 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the checkpoint in --out" };
        var threads = ThreadsOption.Create();
        var cmd = new Command("adapt", "Turn an autoregressive checkpoint into a masked or block diffusion model by continued training")
        {
            from, to, data, output, blockSize, anneal, complementary, steps, batch, seqLen, lr, warmup, seed, saveEvery, resume, threads,
        };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            string fromDir = r.GetValue(from)!.FullName, outDir = r.GetValue(output)!.FullName;
            if (!File.Exists(Path.Combine(fromDir, "config.json"))) throw new FileNotFoundException($"--from {fromDir}: no config.json");
            ITokenizer tokenizer = TokenizerLoader.Load(fromDir);
            var options = new TrainerOptions
            {
                Objective = r.GetValue(to)!, Config = Dllm.Model.ModelConfig.Load(Path.Combine(fromDir, "config.json")),
                Steps = r.GetValue(steps), BatchSize = r.GetValue(batch), SeqLen = r.GetValue(seqLen), LearningRate = r.GetValue(lr),
                WarmupSteps = r.GetValue(warmup), Seed = r.GetValue(seed), SaveEvery = r.GetValue(saveEvery),
                BlockSize = r.GetValue(blockSize), AnnealSteps = r.GetValue(anneal), Complementary = r.GetValue(complementary),
            };
            string[] dataPaths = [.. r.GetValue(data)!.Select(x => x.FullName)];
            if (dataPaths.Length == 1 && SftDataset.IsPairFile(dataPaths[0]))
            {
                var examples = SftDataset.Load(dataPaths[0], tokenizer, options.SeqLen, "--seq-len");
                Console.Error.WriteLine($"adapting {fromDir} → {options.Objective} with the SFT objective, {examples.Count} prompt/response pairs → {outDir}");
                TrainingProgressView.Run($"adapt → {options.Objective} (sft)", onStep => Trainer.AdaptSft(options, examples, tokenizer, fromDir, outDir, r.GetValue(resume), onStep));
                Console.Error.WriteLine($"loss curve: {LossPlot.Write(outDir, $"dllm adapt --to {options.Objective} (sft)")}");
                return 0;
            }
            TextCorpus corpus = TextCorpus.Load(dataPaths, tokenizer, options.SeqLen);
            Console.Error.WriteLine($"adapting {fromDir} → {options.Objective}, corpus {corpus.Tokens.Length:N0} tokens → {outDir}");
            TrainingProgressView.Run($"adapt → {options.Objective}", onStep => Trainer.Adapt(options, corpus, tokenizer, fromDir, outDir, r.GetValue(resume), onStep));
            Console.Error.WriteLine($"loss curve: {LossPlot.Write(outDir, $"dllm adapt --to {options.Objective}")}");
            return 0;
        }));
        return cmd;
    }
}
