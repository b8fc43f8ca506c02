using System.Diagnostics;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tensors;

namespace Dllm.Bench;

/// <summary>
/// One reference generate (gen 128, steps 128, block 32, greedy, low-confidence remasking: the
/// settings of scripts/bench_generate_torch.py) with the engine `dllm generate` uses, for
/// bench/bench_generate.sh. Unlike `dllm generate -v` it also reports the process CPU time of the
/// generate, which at 1 thread is what an undisturbed core would take on a shared machine.
/// Options: --model DIR --prompt-ids 1,2,3 [--threads N]. Prints dllm_seconds, dllm_cpu_seconds, the split of
/// the wall time into the model's forwards (forward_seconds) and the rest of each step (sampler_seconds: scores,
/// selection, bookkeeping, packing; issue #14 item 6 asks for at most 10 % of a forward), and generated_ids (the
/// answer, for the token-for-token check).
/// </summary>
internal static class GenerateBench
{
    public static int Run(string[] args)
    {
        string? dir = null, ids = null;
        int threads = Environment.ProcessorCount;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--model": dir = args[i + 1]; break;
                case "--prompt-ids": ids = args[i + 1]; break;
                case "--threads": threads = int.Parse(args[i + 1]); break;
                default: Console.Error.WriteLine($"generate: unknown option {args[i]}"); return 2;
            }
        }
        if (dir is null || ids is null) { Console.Error.WriteLine("generate: --model and --prompt-ids are required"); return 2; }
        Parallelism.Threads = threads;
        using Transformer lm = Transformer.Load(dir);
        int[] prompt = ids.Split(',').Select(int.Parse).ToArray();
        var decoding = new DecodingOptions
        {
            GenLength = 128, Steps = 128, BlockLength = 32,
            EosId = lm.Config.EosTokenId,
        };
        var timed = new TimedModel(lm);
        var sampler = new DiffusionSampler(timed, lm.Config.MaskTokenId);
        var proc = Process.GetCurrentProcess();
        TimeSpan cpu0 = proc.TotalProcessorTime;
        long t0 = Stopwatch.GetTimestamp();
        GenerationResult result = sampler.Generate(prompt, decoding);
        double wall = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        proc.Refresh();
        double cpu = (proc.TotalProcessorTime - cpu0).TotalSeconds;
        Console.WriteLine($"dllm_seconds={wall:F3} dllm_cpu_seconds={cpu:F3} threads={threads}");
        double outside = wall - timed.Seconds;
        Console.WriteLine($"forward_seconds={timed.Seconds:F3} sampler_seconds={outside:F3} forwards={timed.Calls} " +
            $"ms_per_forward={1000 * timed.Seconds / timed.Calls:F2} sampler_ms_per_step={1000 * outside / timed.Calls:F3} " +
            $"sampler_share_of_forward={outside / timed.Seconds:P1}");
        Console.WriteLine("generated_ids=" + string.Join(",", result.Answer.ToArray()));
        return 0;
    }
}
