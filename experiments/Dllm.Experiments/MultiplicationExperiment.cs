using System.Diagnostics;
using Dllm.Model;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Experiments;

/// <summary>
/// n-digit × n-digit multiplication (n = 2, 3, 4), answered directly and
/// with a chain of thought (<see cref="MultiplicationTask"/>); four models (MDM and AR, direct and
/// CoT), each pair trained like the other experiments' twins, and a fifth and sixth: each AR twin adapted
/// into a masked diffusion model on the same problems for half as many steps again (the recipe of the
/// bundled chat model; DoT itself fine-tunes a pretrained diffusion model). Reported: accuracy of the final
/// answer per n on held-out problems. Expected from Diffusion-of-Thought: the chain of thought helps both,
/// and the MDM with CoT is competitive with the AR model with CoT.
/// </summary>
public sealed class MultiplicationExperiment : IExperiment
{
    public string Name => "multiplication";
    public string Description => "n-digit multiplication with and without a chain of thought: MDM vs AR accuracy by n";

    private static readonly int[] Digits = [2, 3, 4];

    public ExperimentOutcome Run(ExperimentRunOptions o, Action<string> log, CancellationToken ct = default)
    {
        int nTrain = o.Quick ? 48 : 6000, nTestPerKind = o.Quick ? 2 : 100;
        var config = o.Quick
            ? new TwinConfig { DModel = 32, Layers = 1, Heads = 2, Steps = 3, BatchSize = 4, Warmup = 1, Seed = o.Seed }
            : new TwinConfig { DModel = 128, Layers = 4, Heads = 4, Steps = 3000, BatchSize = 32, LearningRate = 1.5e-3, Warmup = 50, Seed = o.Seed };
        var tok = new ByteTokenizer();
        var rows = new List<(string Model, string Kind, double Accuracy, int Correct, int Total)>();
        var headers = new List<string>();
        foreach (bool cot in new[] { false, true })
        {
            string variant = cot ? "cot" : "direct";
            List<TaskExample> train = MultiplicationTask.Generate(Digits, nTrain, o.Seed, cot);
            var seen = train.Select(e => e.Prompt).ToHashSet();
            List<TaskExample> test = [.. Digits.SelectMany(d => MultiplicationTask.Generate([d], nTestPerKind, o.Seed + 1000 + d, cot, seen))];
            log($"{variant}: {train.Count} training problems, {test.Count} held-out");
            TwinModels m = TwinRun.Train(o with { OutDir = Path.Combine(o.OutDir, variant) }, config, train, test, log, ct);
            (string adaptedDir, int adaptSteps, double adaptMinutes) = Adapt(o, config, train, m.ArDir, Path.Combine(o.OutDir, variant, "models", "mdm-adapted"), log, ct);
            headers.Add($"- {(cot ? "chain of thought" : "direct answer")}: {m.ConfigLine}; MDM {m.MdmSeconds / 60:F1} min (final loss {m.MdmFinalLoss:F3}), AR {m.ArSeconds / 60:F1} min (final loss {m.ArFinalLoss:F3}); " +
                $"AR adapted to MDM for {adaptSteps} more steps (lr {AdaptLearningRate:G3}, 2 threads) in {adaptMinutes:F1} min; data in `{variant}/data/`.");
            foreach (var (name, dir, ar) in new[] { ("MDM", m.MdmDir, false), ("AR", m.ArDir, true), ("MDM←AR", adaptedDir, false) })
            {
                using var model = Transformer.Load(dir);
                EvalReport r = TaskEvaluator.Evaluate(model, ar, tok, test, new EvalOptions { CanvasLength = ar ? null : TaskExample.MaxTokens(train, tok) }, ct);
                foreach (string kind in Digits.Select(d => $"{d}x{d}"))
                {
                    var mine = r.Outputs.Where(x => x.Item.Kind == kind).ToList();
                    int right = mine.Count(x => MultiplicationTask.FinalAnswer(x.Output) == MultiplicationTask.FinalAnswer(x.Item.Response) && x.Output.Contains('=') == cot);
                    rows.Add(($"{name} {(cot ? "CoT" : "direct")}", kind, (double)right / Math.Max(1, mine.Count), right, mine.Count));
                }
            }
            log(string.Join("; ", rows.Where(r => r.Model.EndsWith(cot ? "CoT" : "direct", StringComparison.Ordinal)).Select(r => $"{r.Model} {r.Kind}: {Markdown.Percent(r.Accuracy)}")));
        }
        string[] models = ["MDM direct", "AR direct", "MDM←AR direct", "MDM CoT", "AR CoT", "MDM←AR CoT"];
        string md = $"# Multiplication with and without a chain of thought: MDM vs AR\n\nCommand: `{o.Command}`\n\n"
            + $"Task: `a*b=` with a, b of n digits (n ∈ {{{string.Join(", ", Digits)}}}, uniform), {nTrain} training problems per variant (seed {o.Seed}), "
            + $"{nTestPerKind} held-out problems per n (seed {o.Seed}+1000+n, none in the training set). Direct: `37*46=` → `1702`; chain of thought: "
            + "`37*46=` → `222+1480=1702` (partial products by digit, least significant first). Score: the final answer (after the last `=`) is the product. "
            + "Greedy; the MDM decodes the exact answer length in one block, one token per step. MDM←AR: the AR twin adapted to masked "
            + "diffusion on the same problems (`dllm adapt --to mdm --data`: logits kept shifted), so it has seen 1.5x the AR twin's steps.\n\n"
            + string.Join("\n", headers) + "\n\n"
            + Markdown.Table(["n × n digits", .. models], Digits.Select(d => (IReadOnlyList<string>)
                [$"{d}x{d}", .. models.Select(mo => rows.First(r => r.Model == mo && r.Kind == $"{d}x{d}") is var r ? $"{Markdown.Percent(r.Accuracy)} ({r.Correct}/{r.Total})" : "")]));
        var plot = new PlotSpec("Multiplication: final-answer accuracy on held-out problems", "digits per factor", "accuracy (%)",
            [.. Digits.Select(d => $"{d}x{d}")],
            [.. models.Select(mo => (mo, Digits.Select(d => 100 * rows.First(r => r.Model == mo && r.Kind == $"{d}x{d}").Accuracy).ToArray()))],
            X: [.. Digits.Select(d => (double)d)]);
        return new ExperimentOutcome(md, plot);
    }

    /// <summary>Peak learning rate of the adaptation (the bundled chat model's recipe).</summary>
    private const double AdaptLearningRate = 1e-3;

    /// <summary>Adapts the AR twin at <paramref name="arDir"/> into a masked diffusion model for half the twins' steps.</summary>
    private static (string Dir, int Steps, double Minutes) Adapt(ExperimentRunOptions o, TwinConfig config, List<TaskExample> train, string arDir,
        string outDir, Action<string> log, CancellationToken ct)
    {
        var tok = new ByteTokenizer();
        var encoded = train.Select(e => e.Encode(tok)).ToList();
        TwinConfig c = TwinRun.Effective(o, config);
        int steps = Math.Max(1, c.Steps / 2);
        TrainerOptions options = c.SftOptions(encoded, tok) with
        {
            Objective = "mdm", Steps = steps, SaveEvery = steps, LearningRate = AdaptLearningRate, WarmupSteps = Math.Min(c.Warmup, steps / 10),
        };
        var sw = Stopwatch.StartNew();
        Trainer.AdaptSft(options, encoded, tok, arDir, outDir, resume: false, p =>
        {
            if (p.Step % 100 == 0 || p.Step == p.TotalSteps) log($"adapt step {p.Step}/{p.TotalSteps} loss {p.Loss:F4}");
        }, ct);
        return (outDir, steps, sw.Elapsed.TotalMinutes);
    }
}
