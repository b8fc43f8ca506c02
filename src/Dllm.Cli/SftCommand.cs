using System.CommandLine;
using Dllm.Model;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Cli;

/// <summary><c>dllm sft</c>: supervised fine-tuning of a checkpoint on JSONL prompt/response pairs.</summary>
internal static class SftCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Base checkpoint to start from", Required = true };
        var data = new Option<FileInfo>("--data") { Description = "JSONL: {\"prompt\",\"response\"} or {\"messages\": [...]} per line", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output checkpoint directory", Required = true };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 500 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 1e-4 };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 20 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var saveEvery = new Option<int>("--save-every") { DefaultValueFactory = _ => 100 };
        var buckets = new Option<int>("--length-buckets")
        {
            DefaultValueFactory = _ => 1,
            Description = "Draw each batch from one of N equal-count buckets of examples sorted by length (less EOS padding); 1 = mixed batches",
        };
        var resume = new Option<bool>("--resume") { Description = "Continue from the checkpoint in --out" };
        var threads = ThreadsOption.Create();
        var cmd = new Command("sft", "Supervised fine-tuning (prompt never masked, EOS-padded answers)")
        {
            model, data, output, steps, batch, lr, warmup, seed, saveEvery, buckets, resume, threads,
        };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            string baseDir = r.GetValue(model)!.FullName;
            if (!Directory.Exists(baseDir)) throw new DirectoryNotFoundException($"model directory '{baseDir}' does not exist");
            ModelConfig config = ModelConfig.Load(Path.Combine(baseDir, "config.json"));
            if (config.IsContinuous)
                throw new NotSupportedException($"fine-tuning a {config.KindName} checkpoint is not supported (train DiffuSeq on pairs with `dllm train --objective diffuseq`)");
            bool autoregressive = config.Kind == ModelKind.Autoregressive; // fine-tuned in its own kind
            ITokenizer tok = TokenizerLoader.Load(baseDir);
            var examples = SftDataset.Load(r.GetValue(data)!.FullName, tok, config.MaxSequenceLength);
            var options = new TrainerOptions
            {
                Config = config, Steps = r.GetValue(steps), BatchSize = r.GetValue(batch), SeqLen = 2, LearningRate = r.GetValue(lr),
                WarmupSteps = r.GetValue(warmup), Seed = r.GetValue(seed), SaveEvery = r.GetValue(saveEvery),
                LengthBuckets = r.GetValue(buckets),
            };
            Console.Error.WriteLine($"fine-tuning {baseDir} on {examples.Count} examples → {r.GetValue(output)!.FullName}");
            string outDir = r.GetValue(output)!.FullName;
            TrainingProgressView.Run("sft", onStep => Trainer.RunSft(options, examples, tok, outDir, r.GetValue(resume), baseDir, onStep, autoregressive: autoregressive,
                blockSize: config.Kind == ModelKind.BlockDiffusion ? config.BlockSize : 0));
            Console.Error.WriteLine($"loss curve: {LossPlot.Write(outDir, "dllm sft")}");
            return 0;
        }));
        return cmd;
    }
}
