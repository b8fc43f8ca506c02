using System.Diagnostics;
using System.Globalization;
using Dllm.IO;
using Dllm.Model;
using Dllm.Tensors;
using Dllm.Tests.Reference;

namespace Dllm.Bench;

/// <summary>
/// Dllm against llama.cpp's <c>libllama</c> (LLamaSharp 0.30.0's CPU backend, through the reference tests'
/// <see cref="LlamaCppModel"/>) on the same GGUF file: ONE full forward, the logits of every canvas position, timed in
/// both engines on the same random tokens (a quarter of them the mask id), alternately Dllm, llama.cpp, Dllm, llama.cpp...
/// for <c>--rounds</c> rounds after untimed forwards of each (the first one's logits give the agreement column; then
/// more until each engine has run <c>--warmup-s</c> seconds: JIT tiers, graph and buffer allocation). Each engine loads a file once; libllama's context is sized for the longest canvas and runs a
/// canvas as one ubatch, non-causal, flash attention off (what the reference tests check it against Dllm with).
/// </summary>
/// <remarks>
/// <para>Per cell (file × threads × canvas): median and best wall milliseconds of each engine; process CPU
/// milliseconds per forward (median of the <see cref="Process.TotalProcessorTime"/> deltas around each timed call: more
/// than wall × threads means spinning or other threads of the process); llama.cpp median / Dllm median (&gt; 1: Dllm
/// faster); and max |Dllm − llama.cpp| over all logits relative to Dllm's largest |logit| — the engines must agree
/// (F32 ~1e-5; quantized files differ by the two engines' activation rounding, ~1e-2, see LlamaCppQuantTests).</para>
/// <para>Both engines' worker threads may spin for a while after a forward returns; <c>--gap-ms</c> (default 20) of sleep
/// before every timed call keeps one engine's spin out of the other's wall and CPU time (and that idle spin is then
/// counted for neither). Threads: <see cref="Parallelism.Threads"/> for Dllm, libllama's batch and generation threads
/// for llama.cpp. A canvas longer than the model's context is skipped with a note; a file either engine refuses is
/// reported on stderr and the run goes on with the next (exit code 1 at the end). Bad options: one line, exit code 2.</para>
/// <para>Options: --gguf FILE[,FILE...] (required) --canvas 32,160,512 --threads 1,2 --rounds 5 --gap-ms 20 --warmup-s 0.5.
/// Wall-clock numbers: run it on a quiet machine (the header prints the load average at the start and the end).</para>
/// <para>LLamaSharp's libllama is built with OpenMP (the header's <c>OPENMP = 1</c>), whose threads spin at every graph
/// barrier: when the cores are oversubscribed a 2-thread tiny forward took ~340 ms instead of ~2 ms (load 7 on 2 cores,
/// 2026-12-03; <c>OMP_WAIT_POLICY=passive</c> brought it back to 2.4 ms). Left at OpenMP's default, which is what
/// llama.cpp users get; a busy machine shows up as llama.cpp CPU ms ≈ wall ms far above its 1-thread time.</para>
/// </remarks>
internal static class VsLlamaBench
{
    private sealed record Options(string[] Files, int[] Canvases, int[] Threads, int Rounds, int GapMs, double WarmupS);

    /// <summary>One timed call: wall and process CPU milliseconds.</summary>
    private readonly record struct Sample(double WallMs, double CpuMs);

    public static int Run(string[] args)
    {
        if (Parse(args) is not Options o) return 2;
        Console.WriteLine($"# Dllm vs llama.cpp (libllama, LLamaSharp 0.30.0), one full forward per call, {o.Rounds} rounds after a {o.WarmupS} s warm-up per engine and cell, gap {o.GapMs} ms");
        Console.WriteLine($"# CPU: {MachineInfo.CpuModel()}, {Environment.ProcessorCount} logical cores; SIMD: {MachineInfo.Simd()}");
        Console.WriteLine($"# Dllm: .NET {Environment.Version}, f32 kernel {GemmMicroKernel.Kind}, int8 kernel {QuantGemm.Kind}");
        Console.WriteLine($"# libllama: {LlamaCppModel.SystemInfo()}");
        Console.WriteLine($"# loadavg at start: {MachineInfo.LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine("| file | weights | canvas | threads | Dllm median ms | Dllm best ms | Dllm CPU ms | llama.cpp median ms | llama.cpp best ms | llama.cpp CPU ms | llama.cpp/Dllm | max rel. logit diff |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        int refused = o.Files.Count(file => !RunFile(o, file));
        Console.WriteLine();
        Console.WriteLine($"# loadavg at end: {MachineInfo.LoadAverage()}");
        return refused > 0 ? 1 : 0;
    }

    /// <summary>Every cell of one file; false when an engine refused the file (said on stderr).</summary>
    private static bool RunFile(Options o, string file)
    {
        string name = Path.GetFileName(file);
        Transformer dllm;
        try { dllm = Transformer.Load(file); }
        catch (Exception e) { Console.Error.WriteLine($"vsllama: {name}: Dllm could not load it: {e.Message}"); return false; }
        using (dllm)
        {
            LlamaCppModel cpp;
            try { cpp = LlamaCppModel.Open(file, dllm.Config, maxCanvas: o.Canvases.Max(), threads: o.Threads[0]); }
            catch (Exception e) { Console.Error.WriteLine($"vsllama: {name}: libllama could not load it: {e.Message.Split('\n')[0]}"); return false; }
            using (cpp)
            {
                if (cpp.VocabSize != dllm.VocabSize)
                {
                    Console.Error.WriteLine($"vsllama: {name}: vocabularies differ (Dllm {dllm.VocabSize}, libllama {cpp.VocabSize})");
                    return false;
                }
                string weights = WeightTypes(file);
                foreach (int threads in o.Threads)
                    foreach (int canvas in o.Canvases)
                    {
                        if (canvas > dllm.MaxSequenceLength)
                        {
                            Console.Error.WriteLine($"vsllama: {name}: canvas {canvas} skipped (the model's context is {dllm.MaxSequenceLength})");
                            continue;
                        }
                        Parallelism.Threads = threads;
                        cpp.Threads = threads;
                        Console.WriteLine(Cell(o, dllm, cpp, canvas, threads, $"| {name} | {weights} | {canvas} | {threads} "));
                    }
            }
        }
        return true;
    }

    /// <summary>One table row: the warm-up (agreement), then the alternating timed rounds.</summary>
    private static string Cell(Options o, Transformer dllm, LlamaCppModel cpp, int canvas, int threads, string prefix)
    {
        int v = dllm.VocabSize, mask = dllm.Config.MaskTokenId;
        var rng = new Random(canvas * 31 + threads);
        // Real token ids below the mask id (the tail of a LLaDA vocabulary is special tokens) and some masks, like a canvas mid-decode.
        int[] tokens = [.. Enumerable.Range(0, canvas).Select(_ => rng.Next(4) == 0 ? mask : rng.Next(Math.Min(mask, v)))];
        int[] positions = [.. Enumerable.Range(0, canvas)];
        var ours = new float[(long)canvas * v];
        var theirs = new float[(long)canvas * v];
        dllm.Logits(tokens, 1, canvas, positions, ours);
        cpp.Logits(tokens, 1, canvas, positions, theirs);
        double rel = MaxRelDiff(ours, theirs);
        // More untimed forwards, alternating, until each engine has run warmupS seconds: .NET's tiered JIT recompiles
        // hot methods after ~30 calls (in the background), so one forward leaves Dllm on slower early code on small models.
        double spentD = 0, spentC = 0;
        while (spentD < o.WarmupS || spentC < o.WarmupS)
        {
            if (spentD < o.WarmupS) spentD += Time(() => dllm.Logits(tokens, 1, canvas, positions, ours), 0).WallMs / 1000;
            if (spentC < o.WarmupS) spentC += Time(() => cpp.Logits(tokens, 1, canvas, positions, theirs), 0).WallMs / 1000;
        }

        var d = new Sample[o.Rounds];
        var c = new Sample[o.Rounds];
        for (int r = 0; r < o.Rounds; r++)
        {
            d[r] = Time(() => dllm.Logits(tokens, 1, canvas, positions, ours), o.GapMs);
            c[r] = Time(() => cpp.Logits(tokens, 1, canvas, positions, theirs), o.GapMs);
        }
        double dMed = Median(d, s => s.WallMs), cMed = Median(c, s => s.WallMs);
        return prefix + FormattableString.Invariant(
            $"| {dMed:F2} | {d.Min(s => s.WallMs):F2} | {Median(d, s => s.CpuMs):F1} | {cMed:F2} | {c.Min(s => s.WallMs):F2} | {Median(c, s => s.CpuMs):F1} | {cMed / dMed:F2} | {rel.ToString("0.0E+0", CultureInfo.InvariantCulture)} |");
    }

    private static Sample Time(Action forward, int gapMs)
    {
        if (gapMs > 0) Thread.Sleep(gapMs);
        TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        long t0 = Stopwatch.GetTimestamp();
        forward();
        double wall = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds;
        return new Sample(wall, cpu);
    }

    private static double Median(Sample[] samples, Func<Sample, double> field)
    {
        double[] x = [.. samples.Select(field).Order()];
        return x.Length % 2 == 1 ? x[x.Length / 2] : (x[x.Length / 2 - 1] + x[x.Length / 2]) / 2;
    }

    /// <summary>max |a − b| over all logits / max |a|.</summary>
    private static double MaxRelDiff(float[] a, float[] b)
    {
        double scale = 0, diff = 0;
        for (int i = 0; i < a.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs((double)a[i]));
            diff = Math.Max(diff, Math.Abs((double)a[i] - b[i]));
        }
        return scale > 0 ? diff / scale : diff;
    }

    /// <summary>The matrices' types in the file, most frequent first ("Q4_K 43, Q6_K 9"): llama.cpp's Q4_K_M is a mix.</summary>
    private static string WeightTypes(string file)
    {
        using var f = GgufFile.Open(file);
        return string.Join(", ", f.Tensors.Values.Where(t => t.Rank > 1).GroupBy(t => t.DType)
            .OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}"));
    }

    /// <summary>The options, or null after one line on stderr.</summary>
    private static Options? Parse(string[] args)
    {
        string[]? files = null;
        int[] canvases = [32, 160, 512], threads = [1, 2];
        int rounds = 5, gap = 20;
        double warmup = 0.5;
        try
        {
            for (int i = 0; i < args.Length; i += 2)
            {
                if (i + 1 >= args.Length) throw new ArgumentException($"{args[i]} needs a value");
                string value = args[i + 1];
                switch (args[i])
                {
                    case "--gguf": files = value.Split(',', StringSplitOptions.RemoveEmptyEntries); break;
                    case "--canvas": canvases = Positive(value, "--canvas"); break;
                    case "--threads": threads = Positive(value, "--threads"); break;
                    case "--rounds": rounds = int.Parse(value, CultureInfo.InvariantCulture); break;
                    case "--gap-ms": gap = int.Parse(value, CultureInfo.InvariantCulture); break;
                    case "--warmup-s": warmup = double.Parse(value, CultureInfo.InvariantCulture); break;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
            if (files is null || files.Length == 0) throw new ArgumentException("--gguf FILE[,FILE...] is required");
            if (files.FirstOrDefault(f => !File.Exists(f)) is string missing) throw new ArgumentException($"{missing}: no such file");
            if (rounds <= 0) throw new ArgumentException("--rounds must be positive");
            if (gap < 0) throw new ArgumentException("--gap-ms must be ≥ 0");
            if (warmup < 0) throw new ArgumentException("--warmup-s must be ≥ 0");
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"vsllama: {e.Message}");
            return null;
        }
        return new Options(files, canvases, threads, rounds, gap, warmup);
    }

    /// <summary>A comma-separated list of positive integers.</summary>
    private static int[] Positive(string value, string option)
    {
        int[] x;
        try { x = [.. value.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))]; }
        catch (FormatException) { throw new ArgumentException($"{option} {value}: not a comma-separated list of integers"); }
        if (x.Length == 0 || x.Any(n => n <= 0)) throw new ArgumentException($"{option} {value}: values must be positive");
        return x;
    }
}
