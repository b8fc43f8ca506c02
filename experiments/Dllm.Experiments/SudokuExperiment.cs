using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;

namespace Dllm.Experiments;

/// <summary>
/// Sudoku (Beyond Autoregression): puzzle → solution for 4×4 Sudoku with unique
/// solutions; exact-solve accuracy on held-out puzzles for the MDM (any order, and forced left to
/// right) and the AR twin. Expected from the literature: the MDM well ahead, because it can fill the
/// forced cells first while the AR model must commit cells in reading order.
/// </summary>
public sealed class SudokuExperiment : IExperiment
{
    public string Name => "sudoku";
    public string Description => "4x4 Sudoku puzzle → solution: MDM vs AR exact-solve accuracy";

    public ExperimentOutcome Run(ExperimentRunOptions o, Action<string> log, CancellationToken ct = default)
    {
        int nTrain = o.Quick ? 64 : 6000, nTest = o.Quick ? 8 : 200;
        int trainSeed = o.Seed, testSeed = o.Seed + 1000;
        List<TaskExample> train = SudokuTask.Generate(4, nTrain, trainSeed);
        var seen = train.Select(e => e.Prompt).ToHashSet();
        List<TaskExample> test = SudokuTask.Generate(4, nTest * 2, testSeed).Where(e => !seen.Contains(e.Prompt)).Take(nTest).ToList();
        var config = o.Quick
            ? new TwinConfig { DModel = 32, Layers = 1, Heads = 2, Steps = 3, BatchSize = 4, Warmup = 1, Seed = o.Seed }
            : new TwinConfig { DModel = 128, Layers = 4, Heads = 4, Steps = 6000, BatchSize = 32, LearningRate = 1.5e-3, Warmup = 50, Seed = o.Seed };
        TwinModels m = TwinRun.Train(o, config, train, test, log, ct);

        var tok = new ByteTokenizer();
        var rows = new List<(string Model, string Decoding, EvalReport R)>();
        using (var mdm = Transformer.Load(m.MdmDir))
        {
            rows.Add(("MDM", "any order (one block, 1 token/step, low-confidence)", TaskEvaluator.Evaluate(mdm, false, tok, test, new EvalOptions(), ct)));
            rows.Add(("MDM", "left to right (block length 1)", TaskEvaluator.Evaluate(mdm, false, tok, test, new EvalOptions { Decoding = new() { BlockLength = 1 } }, ct)));
        }
        using (var ar = Transformer.Load(m.ArDir))
            rows.Add(("AR", "greedy left to right", TaskEvaluator.Evaluate(ar, true, tok, test, new EvalOptions(), ct)));
        log(string.Join("; ", rows.Select(r => $"{r.Model} {r.Decoding}: {Markdown.Percent(r.R.Accuracy)}")));

        string md = TwinRun.Header("Sudoku 4×4: masked diffusion vs autoregressive", o, m, train.Count, test.Count,
                $"train seed {trainSeed}, test seed {testSeed}, test puzzles not in the training set")
            + "Task: `puzzle → solution`, rows separated by `|`, `0` = blank, every puzzle minimal with a unique solution. Score: exact solve (the whole grid right).\n\n"
            + Markdown.Table(["model", "decoding", "solved", "valid grids", "forwards/token", "tokens/s"], rows.Select(r => (IReadOnlyList<string>)
                [r.Model, r.Decoding, $"{Markdown.Percent(r.R.Accuracy)} ({r.R.Correct}/{r.R.Total})",
                 r.R.Outputs.Count(x => SudokuTask.IsValidSolution(x.Item.Prompt, x.Output)).ToString(),
                 Markdown.Num(r.R.ForwardsPerToken), Markdown.Num(r.R.TokensPerSecond, "F0")]));
        var plot = new PlotSpec("Sudoku 4x4: exact-solve accuracy on held-out puzzles", "", "solved (%)",
            [.. rows.Select(r => r.Model + (r.Decoding.StartsWith("left", StringComparison.Ordinal) ? " (L→R)" : r.Model == "MDM" ? " (any order)" : ""))],
            [("accuracy", [.. rows.Select(r => 100 * r.R.Accuracy)])]);
        return new ExperimentOutcome(md, plot);
    }
}
