using System.Diagnostics;
using Dllm.Model;
using Dllm.Tensors;
using Dllm.Training;

namespace Dllm.Bench;

/// <summary>
/// Training steps per second of <see cref="TrainStep.Run"/> (MDM loss, AdamW, clipping) with the
/// protocol of bench/bench_train_torch.py, so bench/bench_train.sh can put the two side by side:
/// same model (LLaDA, d 256, 4 layers, 4 heads, MLP 704, byte vocab 262, RoPE θ 10000), batch
/// 16 × 128 random byte tokens masked at t ~ U(ε, 1), one untimed warm-up step, then --steps timed
/// steps. Prints tokens/s by wall clock and tokens per CPU-second of the process; at 1 thread the latter is what one
/// core would give undisturbed and is the meaningful one at 1 thread on a shared machine.
/// Options: --threads N  --steps 20  --batch-size 16  --seq-len 128  --d-model 256  --layers 4
/// --heads 4  --mlp-hidden 704.
/// </summary>
internal static class TrainBench
{
    public static int Run(string[] args)
    {
        int threads = Environment.ProcessorCount, steps = 20, batch = 16, len = 128, d = 256, layers = 4, heads = 4, mlp = 704;
        for (int i = 0; i < args.Length; i++)
        {
            int value = i + 1 < args.Length && int.TryParse(args[i + 1], out int v) ? v : throw new ArgumentException($"train: {args[i]} needs an integer");
            switch (args[i++])
            {
                case "--threads": threads = value; break;
                case "--steps": steps = value; break;
                case "--batch-size": batch = value; break;
                case "--seq-len": len = value; break;
                case "--d-model": d = value; break;
                case "--layers": layers = value; break;
                case "--heads": heads = value; break;
                case "--mlp-hidden": mlp = value; break;
                default: Console.Error.WriteLine($"train: unknown option {args[i - 1]}"); return 2;
            }
        }
        Parallelism.Threads = threads;
        const int vocab = 262, mask = 258;
        var config = new ModelConfig
        {
            DModel = d, NHeads = heads, NKvHeads = heads, NLayers = layers, MlpHiddenSize = mlp, VocabSize = vocab,
            MaxSequenceLength = Math.Max(512, len), RopeTheta = 10000, EosTokenId = 257, PadTokenId = 257, MaskTokenId = mask,
        };
        var model = TrainableModel.Create(config, seed: 1);
        var opt = new AdamW(model.Parameters, weightDecay: 0.1);
        var objective = new MaskedDiffusionObjective(mask);
        var rng = new Random(0);
        TrainingBatch NextBatch()
        {
            int[] clean = new int[batch * len];
            for (int i = 0; i < clean.Length; i++) clean[i] = rng.Next(256);
            return objective.Sample(clean, batch, len, rng);
        }

        TrainStep.Run(model, opt, [NextBatch()], 1e-3); // warm-up: JIT, buffer growth
        var batches = Enumerable.Range(0, steps).Select(_ => NextBatch()).ToArray();
        var proc = Process.GetCurrentProcess();
        TimeSpan cpu0 = proc.TotalProcessorTime;
        long t0 = Stopwatch.GetTimestamp();
        double loss = 0;
        foreach (TrainingBatch b in batches) loss = TrainStep.Run(model, opt, [b], 1e-3).Loss;
        double wall = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        proc.Refresh();
        double cpu = (proc.TotalProcessorTime - cpu0).TotalSeconds;
        double tokens = (double)steps * batch * len;
        Console.WriteLine($"dllm_tokens_per_s={tokens / wall:F0} dllm_tokens_per_cpu_s={tokens / cpu:F0} threads={threads} loss={loss:F3}");
        return 0;
    }
}
