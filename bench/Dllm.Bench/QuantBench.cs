using System.Diagnostics;
using Dllm.IO;
using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Bench;

/// <summary>
/// One forward (all canvas positions' logits) of the same model with its weights as stored (f32/bf16) and as
/// <c>dllm quantize</c> Q8_0, Q4_0 and Q4_K copies (written to a temporary folder; Q4_K keeps rows that are not whole
/// 256-value super-blocks in Q8_0), side by side: median and best
/// milliseconds per forward for each canvas and thread count, and the weight bytes. Options:
/// --model DIR (default: the bundled models/kjv-mdm-3m) --canvas 32,160 --threads 1,2 --seconds 1 (per cell)
/// --qkernel avxvnni|avx2|portable. Run it on a quiet machine: every cell is wall-clock time.
/// </summary>
internal static class QuantBench
{
    public static int Run(string[] args)
    {
        string? dir = null;
        int[] canvases = [32, 160], threads = [1, 2];
        double seconds = 1;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--model": dir = args[i + 1]; break;
                case "--canvas": canvases = [.. args[i + 1].Split(',').Select(int.Parse)]; break;
                case "--threads": threads = [.. args[i + 1].Split(',').Select(int.Parse)]; break;
                case "--seconds": seconds = double.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--qkernel": QuantGemm.Kind = Enum.Parse<QuantKernelKind>(args[i + 1], ignoreCase: true); break;
                default: Console.Error.WriteLine($"quant: unknown option {args[i]}"); return 2;
            }
        }
        dir ??= FindBundled();
        string tmp = Path.Combine(Path.GetTempPath(), "dllm-quant-bench-" + Environment.ProcessId);
        try
        {
            var models = new List<(string Type, string Dir)> { ("stored", dir) };
            foreach (DType t in new[] { DType.Q8_0, DType.Q4_0, DType.Q4_K })
            {
                string q = Path.Combine(tmp, t.SafeTensorsName());
                CheckpointQuantizer.Quantize(dir, t, q);
                models.Add((t.SafeTensorsName().ToLowerInvariant(), q));
            }
            Console.WriteLine($"# Dllm quant bench: {dir}, {Environment.ProcessorCount} logical cores, f32 kernel {GemmMicroKernel.Kind}, int8 kernel {QuantGemm.Kind}");
            Console.WriteLine("weights,weight_mib,canvas,threads,median_ms,best_ms");
            foreach (var (type, path) in models)
            {
                using Transformer m = Transformer.Load(path);
                double mib = Directory.GetFiles(path, "*.safetensors").Sum(f => new FileInfo(f).Length) / (1024.0 * 1024.0);
                foreach (int canvas in canvases)
                    foreach (int t in threads)
                    {
                        Parallelism.Threads = t;
                        var (median, best) = Measure(m, Math.Min(canvas, m.MaxSequenceLength), seconds);
                        Console.WriteLine($"{type},{mib:F1},{canvas},{t},{median:F2},{best:F2}");
                    }
            }
            return 0;
        }
        finally
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        }
    }

    private static (double Median, double Best) Measure(Transformer m, int length, double seconds)
    {
        var rng = new Random(1);
        int mask = m.Config.MaskTokenId;
        int[] tokens = [.. Enumerable.Range(0, length).Select(i => i < length / 4 ? rng.Next(Math.Min(mask, m.VocabSize)) : mask)];
        int[] positions = [.. Enumerable.Range(0, length)];
        var logits = new float[(long)length * m.VocabSize];
        m.Logits(tokens, 1, length, positions, logits); // warm-up: JIT, buffers
        var samples = new List<double>();
        var total = Stopwatch.StartNew();
        while (samples.Count < 3 || total.Elapsed.TotalSeconds < seconds && samples.Count < 200)
        {
            long t0 = Stopwatch.GetTimestamp();
            m.Logits(tokens, 1, length, positions, logits);
            samples.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        samples.Sort();
        return (samples[samples.Count / 2], samples[0]);
    }

    private static string FindBundled()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string c = Path.Combine(d.FullName, "models", "kjv-mdm-3m");
            if (File.Exists(Path.Combine(c, "config.json"))) return c;
        }
        throw new DirectoryNotFoundException("models/kjv-mdm-3m not found above the benchmark binary; pass --model DIR");
    }
}
