using System.Diagnostics;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tensors;

namespace Dllm.Bench;

/// <summary>
/// A real-size checkpoint end to end, one engine per process (scripts/make_random_checkpoint.py makes
/// random-weight ones): load time, one forward over a canvas (logits at its masked positions), an answer
/// decoded with the given schedule, and the process's peak resident memory (which counts the pages of the
/// memory-mapped weights that were touched). Wall and process CPU seconds for each.
/// Options: --model DIR [--threads 2] [--prompt 32] [--gen-length 128] [--steps 128] [--block-length 32]
/// [--cache none|prefix|dual] [--commit schedule|threshold|dynamic] [--threshold 0.9] [--sub-block N]. A block diffusion
/// model decodes on its own grid (block length = its block size; every cache mode is its exact cache).
/// </summary>
internal static class RealSizeBench
{
    public static int Run(string[] args)
    {
        string? dir = null;
        int threads = 2, prompt = 32, gen = 128, steps = 128, block = 32;
        int? subBlock = null;
        double threshold = 0.9;
        CacheMode cache = CacheMode.None;
        CommitRule commit = CommitRule.Schedule;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--model": dir = args[i + 1]; break;
                case "--threads": threads = int.Parse(args[i + 1]); break;
                case "--prompt": prompt = int.Parse(args[i + 1]); break;
                case "--gen-length": gen = int.Parse(args[i + 1]); break;
                case "--steps": steps = int.Parse(args[i + 1]); break;
                case "--block-length": block = int.Parse(args[i + 1]); break;
                case "--cache": cache = Enum.Parse<CacheMode>(args[i + 1], ignoreCase: true); break;
                case "--commit": commit = Enum.Parse<CommitRule>(args[i + 1], ignoreCase: true); break;
                case "--threshold": threshold = double.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--sub-block": subBlock = int.Parse(args[i + 1]); break;
                default: Console.Error.WriteLine($"realsize: unknown option {args[i]}"); return 2;
            }
        }
        if (dir is null) { Console.Error.WriteLine("realsize: --model is required"); return 2; }
        Parallelism.Threads = threads;
        var proc = Process.GetCurrentProcess();
        (double Wall, double Cpu) Time(Action a)
        {
            proc.Refresh();
            TimeSpan c0 = proc.TotalProcessorTime;
            long t0 = Stopwatch.GetTimestamp();
            a();
            double wall = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            proc.Refresh();
            return (wall, (proc.TotalProcessorTime - c0).TotalSeconds);
        }

        Transformer? lm = null;
        var load = Time(() => lm = Transformer.Load(dir));
        using Transformer model = lm!;
        ModelConfig c = model.Config;
        var rng = new Random(0);
        int[] promptIds = Enumerable.Range(0, prompt).Select(_ => rng.Next(Math.Min(c.VocabSize, 100000))).ToArray();
        int len = prompt + gen;
        int[] canvas = [.. promptIds, .. Enumerable.Repeat(c.MaskTokenId, gen)];
        int[] positions = Enumerable.Range(prompt, gen).ToArray();
        var logits = new float[(long)gen * model.VocabSize];
        var forward = Time(() => model.Logits(canvas, 1, len, positions, logits));
        if (model.DiffusionBlockSize > 0) block = model.DiffusionBlockSize;
        var options = new DecodingOptions
        {
            GenLength = gen, Steps = steps, BlockLength = block, EosId = c.EosTokenId, Cache = cache, Commit = commit, Threshold = threshold, SubBlockLength = subBlock,
        };
        GenerationResult? result = null;
        var answer = Time(() => result = new DiffusionSampler(model, c.MaskTokenId).Generate(promptIds, options));
        proc.Refresh();
        Console.WriteLine($"model={Path.GetFileName(Path.TrimEndingDirectorySeparator(dir))} family={c.Spec.Name} threads={threads} " +
            $"load_s={load.Wall:F2} forward_canvas={len} forward_s={forward.Wall:F2} forward_cpu_s={forward.Cpu:F2} " +
            $"answer_tokens={gen} steps={steps} block={block} cache={cache} commit={commit} answer_s={answer.Wall:F2} answer_cpu_s={answer.Cpu:F2} " +
            $"tokens_per_s={gen / answer.Wall:F2} " +
            $"forwards={result!.ForwardPasses} peak_rss_gib={proc.PeakWorkingSet64 / (double)(1L << 30):F2}");
        return 0;
    }
}
