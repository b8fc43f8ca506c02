using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Experiments;

/// <summary>
/// The decoding-speed experiment: one trained MDM decodes the same held-out
/// questions with fewer steps per token (1, 1/2, 1/4, 1/8), with Fast-dLLM threshold decoding, and with
/// threshold decoding plus the prefix and dual KV caches; for each: accuracy, forward passes per
/// generated token and tokens/s (one prompt at a time, as Fast-dLLM measures), side by side in one run,
/// with the speed-up over the plain sampler. Two workloads:
/// <list type="bullet">
/// <item>"speed": the Sudoku 4×4 MDM of <see cref="SudokuExperiment"/> (read from the sibling directory
/// <c>sudoku/</c>): a 20-token answer whose cells constrain each other;</item>
/// <item>"speed-rot13": an MDM trained here on <see cref="Rot13Task"/> (127-byte KJV passages → their
/// ROT13): a 128-token answer whose tokens are independent given the prompt, the long-answer regime of
/// Fast-dLLM's 8–27× (Wu et al. 2025, generation lengths 256–1024).</item>
/// </list>
/// </summary>
public sealed class SpeedExperiment : IExperiment
{
    private readonly bool _rot13;

    /// <param name="rot13">False: the Sudoku workload ("speed"); true: the long-answer ROT13 workload ("speed-rot13").</param>
    public SpeedExperiment(bool rot13 = false) => _rot13 = rot13;

    public string Name => _rot13 ? "speed-rot13" : "speed";
    public string Description => _rot13
        ? "Speed vs quality on a long-answer task (ROT13 of 127-byte KJV passages, MDM trained here): threshold decoding, prefix/dual cache"
        : "Speed vs quality on the trained Sudoku MDM: steps per token, threshold decoding, prefix/dual cache";

    public ExperimentOutcome Run(ExperimentRunOptions o, Action<string> log, CancellationToken ct = default)
        => _rot13 ? RunRot13(o, log, ct) : RunSudoku(o, log, ct);

    private static ExperimentOutcome RunSudoku(ExperimentRunOptions o, Action<string> log, CancellationToken ct)
    {
        string source = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(o.OutDir).TrimEnd(Path.DirectorySeparatorChar))!, "sudoku");
        if (o.Quick)
        {
            source = Path.Combine(o.OutDir, "sudoku-quick");
            new SudokuExperiment().Run(o with { OutDir = source }, log, ct);
        }
        string modelDir = Path.Combine(source, "models", "mdm"), testPath = Path.Combine(source, "data", "test.jsonl");
        if (!Directory.Exists(modelDir) || !File.Exists(testPath))
            throw new DirectoryNotFoundException($"no trained Sudoku MDM in '{source}': run `dllm experiment sudoku` first (or pass --out next to its directory)");
        // The first 100 held-out puzzles: every row decodes the same ones (paired comparison).
        List<TaskExample> test = [.. TaskExample.ReadJsonl(testPath).Take(100)];
        var (table, plot) = Measure(modelDir, test, block: 5, fixedCuts: [0.5, 0.25, 0.125], rounds: o.Quick ? 1 : 2, "Sudoku 4x4 MDM", log, ct);
        string md = $"# Speed vs quality: decoding the Sudoku 4×4 MDM faster\n\nCommand: `{o.Command}`\n\n"
            + $"Model: `{Path.GetRelativePath(o.OutDir, modelDir)}` (trained by `dllm experiment sudoku`); {test.Count} held-out puzzles "
            + $"(`{Path.GetRelativePath(o.OutDir, testPath)}`), answer canvas 20 tokens, prompt 21 tokens. " + table;
        return new ExperimentOutcome(md, plot);
    }

    /// <summary>Passage length: prompt BOS + 127 bytes, answer 127 bytes + EOS = 128 = four blocks of 32.</summary>
    private const int Rot13Length = 127;

    private static ExperimentOutcome RunRot13(ExperimentRunOptions o, Action<string> log, CancellationToken ct)
    {
        // Held-out passages come from the last 10 % of the text (other books), never seen in training.
        var (path, trainText, heldText) = HeldOutText.Read(o.Data);
        int length = o.Quick ? 15 : Rot13Length, nTest = o.Quick ? 4 : 100;
        var config = o.Quick
            ? new TwinConfig { DModel = 32, Layers = 1, Heads = 2, Steps = 3, BatchSize = 4, Warmup = 1, Seed = o.Seed }
            : new TwinConfig { DModel = 128, Layers = 3, Heads = 4, Steps = 3000, BatchSize = 16, LearningRate = 2e-3, Warmup = 50, Seed = o.Seed };
        if (o.Steps is int s) config = config with { Steps = s, Warmup = Math.Min(config.Warmup, s / 10) };
        // As many passages as training draws examples (the batches draw at random, so a few repeat).
        List<TaskExample> train = Rot13Task.Generate(trainText, config.Steps * config.BatchSize, length, o.Seed);
        List<TaskExample> test = Rot13Task.Generate(heldText, nTest, length, o.Seed + 1000);
        string data = Path.Combine(o.OutDir, "data"), modelDir = Path.Combine(o.OutDir, "models", "mdm");
        TaskExample.WriteJsonl(Path.Combine(data, "train.jsonl"), train);
        TaskExample.WriteJsonl(Path.Combine(data, "test.jsonl"), test);

        var tok = new ByteTokenizer();
        var encoded = train.Select(e => e.Encode(tok)).ToList();
        // Checkpoints every 200 steps, so an interrupted run can be resumed (below).
        TrainerOptions options = config.SftOptions(encoded) with { SaveEvery = Math.Max(1, Math.Min(200, config.Steps)) };
        // A checkpoint already in the directory is resumed (an interrupted run finishes; a finished one is reused as is).
        bool resume = File.Exists(Path.Combine(modelDir, TrainingCheckpoint.StateFile));
        log($"{(resume ? "resuming" : "training")} the MDM on {train.Count} ROT13 passages of {length} bytes, {config.Steps} steps × {config.BatchSize}");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        TrainableModel net = Trainer.RunSft(options, encoded, tok, modelDir, resume, initFrom: null, p =>
        {
            if (p.Step % 100 == 0 || p.Step == p.TotalSteps) log($"mdm step {p.Step}/{p.TotalSteps} loss {p.Loss:F4} ({p.TokensPerSecond:F0} tok/s)");
        }, ct);
        double trainMinutes = sw.Elapsed.TotalMinutes;

        var (table, plot) = Measure(modelDir, test, block: o.Quick ? 4 : 32, fixedCuts: [0.5, 0.25, 0.125, 1.0 / 32], rounds: o.Quick ? 1 : 2,
            "ROT13 MDM (128-token answers)", log, ct);
        string md = $"# Speed vs quality: a long-answer task (ROT13 of {length}-byte passages)\n\nCommand: `{o.Command}`\n\n"
            + $"Data: `{Path.GetFileName(path)}`; {train.Count} training passages from its first 90 %, {test.Count} held-out passages from the last 10 % (`data/`). "
            + $"Prompt = BOS + passage ({length + 1} tokens), answer = its ROT13 + EOS ({length + 1} tokens).\n\n"
            + $"Model: {config.Describe(options.Config, net.Parameters.Count)}; MDM SFT (prompt never masked), {trainMinutes:F1} min "
            + $"({(resume ? "resumed from the checkpoint in `models/mdm`" : "trained in this run")}, {Dllm.Tensors.Parallelism.Threads} kernel thread(s)). " + table;
        return new ExperimentOutcome(md, plot);
    }

    /// <summary>
    /// Decodes <paramref name="test"/> with every variant (same questions, greedy, low-confidence
    /// ordering, one prompt at a time), <paramref name="rounds"/> round-robin rounds keeping each row's
    /// fastest; returns the markdown table (with its legend) and the plot.
    /// </summary>
    private static (string Markdown, PlotSpec Plot) Measure(string modelDir, List<TaskExample> test, int block, double[] fixedCuts, int rounds,
        string title, Action<string> log, CancellationToken ct)
    {
        var tok = new ByteTokenizer();
        static EvalOptions OneAtATime(DecodingOptions d, double stepsPerToken = 1) => new() { Decoding = d, StepsPerToken = stepsPerToken, BatchSize = 1 };
        var plain = new DecodingOptions();
        var threshold = plain with { Commit = CommitRule.Threshold, Threshold = 0.9 };
        var variants = new List<(string Name, EvalOptions S)> { ("plain, 1 step/token", OneAtATime(plain)) };
        foreach (double f in fixedCuts) variants.Add(($"plain, 1/{1 / f:0} step/token", OneAtATime(plain, f)));
        variants.Add(("threshold τ=0.9", OneAtATime(threshold)));
        variants.Add(("threshold τ=0.7", OneAtATime(threshold with { Threshold = 0.7 })));
        variants.Add(($"plain, blocks of {block}", OneAtATime(plain with { BlockLength = block })));
        variants.Add(($"threshold τ=0.9, blocks of {block}", OneAtATime(threshold with { BlockLength = block })));
        variants.Add(("+ prefix cache", OneAtATime(threshold with { BlockLength = block, Cache = CacheMode.Prefix })));
        variants.Add(("+ dual cache", OneAtATime(threshold with { BlockLength = block, Cache = CacheMode.Dual })));
        // Timings on a shared machine are noisy: every variant runs `rounds` times, round-robin (so a
        // slow spell hits all alike), and keeps its fastest round. Accuracy is the same in every round
        // (greedy decoding is deterministic).
        var best = new EvalReport?[variants.Count];
        using (var model = Transformer.Load(modelDir))
        {
            // One untimed pass warms the JIT so the first timed row is not penalised.
            TaskEvaluator.Evaluate(model, false, tok, test.Take(2).ToList(), variants[0].S, ct);
            for (int round = 0; round < rounds; round++)
                for (int v = 0; v < variants.Count; v++)
                {
                    EvalReport r = TaskEvaluator.Evaluate(model, false, tok, test, variants[v].S, ct);
                    if (best[v] is null || r.Seconds < best[v]!.Seconds) best[v] = r;
                    log($"round {round + 1}/{rounds} {variants[v].Name}: {Markdown.Percent(r.Accuracy)}, {r.ForwardsPerToken:F3} forwards/token, {r.TokensPerSecond:F0} tokens/s");
                }
        }
        var results = variants.Select((x, v) => (x.Name, R: best[v]!)).ToList();
        EvalReport basis = results[0].R;
        string md = $"Greedy, low-confidence ordering, one prompt at a time, {Dllm.Tensors.Parallelism.Threads} kernel thread(s). "
            + "Forwards/token = model calls per generated token (a cached window call counts as one); speed-up = tokens/s over the plain "
            + $"sampler's (first row), measured in this run (best of {rounds} round-robin rounds per row).\n\n"
            + "Exact = whole answer right; bytes right = answer bytes equal to the expected byte at the same position (a finer measure of the quality lost).\n\n"
            + Markdown.Table(["decoding", "exact", "Δ vs plain (points)", "bytes right", "forwards/token", "tokens/s", "speed-up"], results.Select(x => (IReadOnlyList<string>)
                [x.Name, Markdown.Percent(x.R.Accuracy), Markdown.Num(100 * (x.R.Accuracy - basis.Accuracy), "+0.0;-0.0;0.0"), BytesRight(x.R),
                 Markdown.Num(x.R.ForwardsPerToken, "F3"), Markdown.Num(x.R.TokensPerSecond, "F0"), Markdown.Num(x.R.TokensPerSecond / basis.TokensPerSecond, "F2") + "×"]));
        var plot = new PlotSpec($"{title}: accuracy and speed-up by decoding strategy", "", "exact (%) / speed-up (×10)",
            [.. results.Select(x => x.Name.Replace("threshold ", "thr ").Replace(" step/token", "").Replace("blocks of ", "blk "))],
            [("exact (%)", [.. results.Select(x => 100 * x.R.Accuracy)]), ("speed-up ×10", [.. results.Select(x => 10 * x.R.TokensPerSecond / basis.TokensPerSecond)])]);
        return (md, plot);
    }

    /// <summary>Share of expected answer bytes that the output has at the same position (missing bytes count as wrong), as "99.62 %".</summary>
    private static string BytesRight(EvalReport r)
    {
        long right = 0, total = 0;
        foreach (var (item, output) in r.Outputs)
        {
            total += item.Response.Length;
            for (int i = 0; i < Math.Min(item.Response.Length, output.Length); i++) if (item.Response[i] == output[i]) right++;
        }
        return total == 0 ? "n/a" : Markdown.Num(100.0 * right / total, "F2") + " %";
    }
}
