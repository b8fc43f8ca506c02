using System.CommandLine;
using Dllm.Model;
using Dllm.Training;
using Dllm.Text;

namespace Dllm.Cli;

/// <summary><c>dllm train</c>: a LLaDA-architecture model from scratch on text files, byte-level tokens.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<FileInfo[]>("--data") { Description = "UTF-8 text file(s), or *.jsonl with one {\"text\": ...} document per line", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Checkpoint directory (Hugging Face layout + optimizer state)", Required = true };
        var objective = new Option<string>("--objective") { Description = "mdm (masked diffusion) | ar (autoregressive baseline)", DefaultValueFactory = _ => "mdm" };
        objective.AcceptOnlyFromAmong("mdm", "ar");
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 1000, Description = "Optimizer steps" };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16, Description = "Sequences per micro-batch" };
        var seqLen = new Option<int>("--seq-len") { DefaultValueFactory = _ => 128, Description = "Tokens per sequence" };
        var accum = new Option<int>("--grad-accum") { DefaultValueFactory = _ => 1, Description = "Micro-batches per step" };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 4e-4, Description = "Peak learning rate (warmup-stable-decay)" };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 100, Description = "Warmup steps" };
        var dModel = new Option<int>("--d-model") { DefaultValueFactory = _ => 256 };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 4 };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 4 };
        var kvHeads = new Option<int>("--kv-heads") { DefaultValueFactory = _ => 0, Description = "0 = same as --heads" };
        var mlp = new Option<int>("--mlp-hidden") { DefaultValueFactory = _ => 0, Description = "0 = 8/3 · d-model rounded to 64" };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var saveEvery = new Option<int>("--save-every") { DefaultValueFactory = _ => 200 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the checkpoint in --out (same batches, same curve)" };
        var threads = ThreadsOption.Create();
        var cmd = new Command("train", "Train a LLaDA-architecture model from scratch (masked diffusion or AR baseline)")
        {
            data, output, objective, steps, batch, seqLen, accum, lr, warmup, dModel, layers, heads, kvHeads, mlp, seed, saveEvery, resume, threads,
        };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            int d = r.GetValue(dModel), h = r.GetValue(heads), kv = r.GetValue(kvHeads), f = r.GetValue(mlp);
            var tokenizer = new ByteTokenizer();
            var shape = new ModelConfig
            {
                DModel = d, NHeads = h, NKvHeads = kv == 0 ? h : kv, NLayers = r.GetValue(layers),
                MlpHiddenSize = f > 0 ? f : Math.Max(64, (d * 8 / 3 + 63) / 64 * 64), VocabSize = tokenizer.VocabSize,
                EmbeddingSize = tokenizer.VocabSize, MaxSequenceLength = Math.Max(r.GetValue(seqLen), 512), RopeTheta = 10000,
                EosTokenId = tokenizer.EosId, PadTokenId = tokenizer.EosId, MaskTokenId = tokenizer.MaskId,
            };
            var options = new TrainerOptions
            {
                Objective = r.GetValue(objective)!, Config = shape, Steps = r.GetValue(steps), BatchSize = r.GetValue(batch),
                SeqLen = r.GetValue(seqLen), GradAccum = r.GetValue(accum), LearningRate = r.GetValue(lr),
                WarmupSteps = r.GetValue(warmup), Seed = r.GetValue(seed), SaveEvery = r.GetValue(saveEvery),
            };
            options.Validate();
            TextCorpus corpus = TextCorpus.Load(r.GetValue(data)!.Select(x => x.FullName), tokenizer, options.SeqLen);
            string outDir = r.GetValue(output)!.FullName;
            Console.Error.WriteLine($"training {options.Objective} model: {shape.DModel}d × {shape.NLayers} layers, corpus {corpus.Tokens.Length:N0} tokens → {outDir}");
            TrainingProgressView.Run($"train {options.Objective}", onStep => Trainer.Run(options, corpus, tokenizer, outDir, r.GetValue(resume), onStep));
            Console.Error.WriteLine($"loss curve: {LossPlot.Write(outDir, $"dllm train --objective {options.Objective}")}");
            return 0;
        }));
        return cmd;
    }
}
