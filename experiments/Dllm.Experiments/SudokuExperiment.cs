using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;

namespace Dllm.Experiments;

/// <summary>
/// Sudoku (Beyond Autoregression): puzzle → solution for 4×4 (default) or 9×9 (<c>--size 9</c>) Sudoku
/// with unique solutions; exact-solve and blank-cell accuracy on held-out puzzles for the MDM (any order,
/// and forced left to right) and the AR twin. Expected from the literature: the MDM well ahead, because it
/// can fill the forced cells first while the AR model must commit cells in reading order. 4×4 puzzles are
/// minimal; 9×9 ones keep 36 clues (45 blanks, mostly solvable by propagation: minimal 9×9 puzzles have
/// ~57 blanks, need search, and take ~60 ms each to generate).
/// </summary>
public sealed class SudokuExperiment : IExperiment
{
    public string Name => "sudoku";
    public string Description => "Sudoku puzzle → solution (4x4, or 9x9 with --size 9): MDM vs AR exact-solve accuracy";

    /// <summary>Clues a 9×9 puzzle keeps (blanking stops there).</summary>
    public const int Clues9 = 36;

    public ExperimentOutcome Run(ExperimentRunOptions o, Action<string> log, CancellationToken ct = default)
    {
        int n = o.Size ?? 4;
        if (n is not (4 or 9)) throw new ArgumentException($"sudoku --size must be 4 or 9, got {n}");
        int minClues = n == 9 ? Clues9 : 0;
        int nTrain = o.Quick ? 64 : n == 9 ? 16000 : 6000, nTest = o.Quick ? 8 : 200;
        int trainSeed = o.Seed, testSeed = o.Seed + 1000;
        log($"generating {nTrain} + {nTest} {n}x{n} puzzles");
        List<TaskExample> train = SudokuTask.Generate(n, nTrain, trainSeed, minClues);
        var seen = train.Select(e => e.Prompt).ToHashSet();
        List<TaskExample> test = SudokuTask.Generate(n, nTest * 2, testSeed, minClues).Where(e => !seen.Contains(e.Prompt)).Take(nTest).ToList();
        var config = o.Quick
            ? new TwinConfig { DModel = 32, Layers = 1, Heads = 2, Steps = 3, BatchSize = 4, Warmup = 1, Seed = o.Seed }
            : new TwinConfig { DModel = 128, Layers = 4, Heads = 4, Steps = n == 9 ? 8000 : 6000, BatchSize = 32, LearningRate = 1.5e-3, Warmup = 50, Seed = o.Seed };
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

        string puzzles = n == 9 ? $"every puzzle has a unique solution and {Clues9} clues" : "every puzzle minimal with a unique solution";
        string md = TwinRun.Header($"Sudoku {n}×{n}: masked diffusion vs autoregressive", o, m, train.Count, test.Count,
                $"train seed {trainSeed}, test seed {testSeed}, test puzzles not in the training set")
            + $"Task: `puzzle → solution`, rows separated by `|`, `0` = blank, {puzzles}. Score: exact solve (the whole grid right); " +
              "blank cells right: the fraction of the puzzle's blanks the answer fills with the solution's digit.\n\n"
            + Markdown.Table(["model", "decoding", "solved", "valid grids", "blank cells right", "forwards/token", "tokens/s"], rows.Select(r => (IReadOnlyList<string>)
                [r.Model, r.Decoding, $"{Markdown.Percent(r.R.Accuracy)} ({r.R.Correct}/{r.R.Total})",
                 r.R.Outputs.Count(x => SudokuTask.IsValidSolution(x.Item.Prompt, x.Output)).ToString(),
                 Markdown.Percent(BlankCellAccuracy(r.R)),
                 Markdown.Num(r.R.ForwardsPerToken), Markdown.Num(r.R.TokensPerSecond, "F0")]));
        var plot = new PlotSpec($"Sudoku {n}x{n}: exact-solve accuracy on held-out puzzles", "", "solved (%)",
            [.. rows.Select(r => r.Model + (r.Decoding.StartsWith("left", StringComparison.Ordinal) ? " (L→R)" : r.Model == "MDM" ? " (any order)" : ""))],
            [("accuracy", [.. rows.Select(r => 100 * r.R.Accuracy)])]);
        return new ExperimentOutcome(md, plot);
    }

    /// <summary>Over all questions: blank cells ('0' in the puzzle) whose answer character is the solution's, over all blanks.</summary>
    private static double BlankCellAccuracy(EvalReport r)
    {
        long right = 0, blanks = 0;
        foreach (var (item, output) in r.Outputs)
            for (int i = 0; i < item.Prompt.Length; i++)
            {
                if (item.Prompt[i] != '0') continue;
                blanks++;
                if (output is not null && i < output.Length && output[i] == item.Response[i]) right++;
            }
        return blanks == 0 ? 0 : (double)right / blanks;
    }
}
