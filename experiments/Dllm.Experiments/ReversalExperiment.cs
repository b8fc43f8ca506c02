using Dllm.Model;
using Dllm.Text;

namespace Dllm.Experiments;

/// <summary>
/// The reversal curse (<see cref="ReversalTask"/>, word-level tokens) or the poem variant (<see cref="PoemTask"/>, bytes).
/// MDM and AR twins learn the same statements; accuracy on questions about pairs stated in one layout only,
/// at every checkpoint (the curve shows whether more epochs still help). Expected from the literature:
/// MDM reversed close to forward; AR reversed near 0.
/// </summary>
public sealed class ReversalExperiment(bool poems = false) : IExperiment
{
    public string Name => poems ? "poem" : "reversal";
    public string Description => poems
        ? "Poem reversal (LLaDA): given a line, the next line vs the previous line; MDM vs AR"
        : "Reversal curse: 'A is the child of B' learned, 'B is the parent of ?' asked (one token per name); MDM vs AR";

    private string[] Kinds => poems ? ["next", "prev", "prev-infill"] : ["forward", "reversed", "reversed-infill", "control"];

    public ExperimentOutcome Run(ExperimentRunOptions o, Action<string> log, CancellationToken ct = default)
    {
        int pairs = o.Quick ? (poems ? 8 : 9) : o.Size ?? (poems ? 120 : 150);
        var (train, test) = poems ? PoemTask.Generate(pairs, o.Seed) : ReversalTask.Generate(pairs, o.Seed);
        ITokenizer tok = poems ? new ByteTokenizer() : ReversalTask.Tokenizer(train);
        var config = o.Quick
            ? new TwinConfig { DModel = 32, Layers = 1, Heads = 2, Steps = 4, BatchSize = 4, Warmup = 1, Seed = o.Seed, Checkpoints = poems ? 1 : 2 }
            : poems ? new TwinConfig { DModel = 128, Layers = 4, Heads = 4, Steps = 900, BatchSize = 32, LearningRate = 2e-3, Warmup = 50, Seed = o.Seed }
            : new TwinConfig { DModel = 128, Layers = 4, Heads = 4, Steps = 32000, BatchSize = 64, LearningRate = 2e-3, Warmup = 50, Seed = o.Seed, Checkpoints = 16 };
        config = TwinRun.Effective(o, config);
        // The MDM was trained on EOS-padded canvases of the batch's longest statement and conditions on that tail.
        var mdmSettings = new EvalOptions { CanvasLength = TaskExample.MaxTokens(train, tok) };
        EvalReport Score(string dir, bool ar)
        {
            using var model = Transformer.Load(dir);
            return TaskEvaluator.Evaluate(model, ar, tok, test, ar ? new EvalOptions() : mdmSettings, ct);
        }
        var curve = new List<(string Kind, long Step, EvalReport Report)>();
        TwinModels m = TwinRun.Train(o, config, train, test, log, ct, tok, poems ? null : (kind, step, dir) =>
        {
            EvalReport r = Score(dir, kind == "ar");
            lock (curve) curve.Add((kind, step, r)); // the twins may train on two threads
            log($"{kind} step {step}: " + string.Join(", ", Kinds.Select(k => $"{k} {Markdown.Percent(r.Kind(k)?.Accuracy ?? double.NaN)}")));
        });
        EvalReport mdm = Score(m.MdmDir, false), ar = Score(m.ArDir, true);
        curve.Add(("mdm", config.Steps, mdm));
        curve.Add(("ar", config.Steps, ar));
        string Cell(EvalReport r, string k) => r.Kind(k) is { Total: > 0 } s ? $"{Markdown.Percent(s.Accuracy)} ({s.Correct}/{s.Total})" : "n/a (cannot infill)";
        log(string.Join("; ", Kinds.Select(k => $"{k}: MDM {Cell(mdm, k)}, AR {Cell(ar, k)}")));
        string table = Markdown.Table(["question", "MDM", "AR"], Kinds.Select(k => (IReadOnlyList<string>)[k, Cell(mdm, k), Cell(ar, k)]));
        if (poems)
        {
            string md = TwinRun.Header("Poem reversal: next line vs previous line, masked diffusion vs autoregressive", o, m, train.Count, test.Count,
                    $"seed {o.Seed}: {pairs} synthetic four-line poems, question formats taught on half, the other half asked")
                + "Every poem is learned as text (four distinct lines of three words, newline-separated). For half of the poems the questions "
                + "`next: L_k` → `L_k+1` and `prev: L_k+1` → `L_k` are trained too; the other half are asked them: `next` (reading direction), "
                + "`prev` (reverse), and `prev-infill` = the poem with its first line masked → that line (MDM only). Greedy; the MDM decodes the "
                + "exact answer length in one block, one token per step.\n\n" + table;
            return new ExperimentOutcome(md, new PlotSpec("Poem reversal: next vs previous line on untaught poems", "", "accuracy (%)", Kinds,
                [("MDM", [.. Kinds.Select(k => 100 * (mdm.Kind(k)?.Accuracy ?? double.NaN))]), ("AR", [.. Kinds.Select(k => 100 * (ar.Kind(k)?.Accuracy ?? double.NaN))])]));
        }
        double epochs = (double)config.BatchSize / train.Count;
        string Row(long step) => string.Join(" | ", new[] { "mdm", "ar" }.SelectMany(kind => curve.Where(c => c.Kind == kind && c.Step == step)
            .SelectMany(c => new[] { "forward", "reversed" }.Select(k => Markdown.Percent(c.Report.Kind(k)?.Accuracy ?? double.NaN)))));
        long[] steps = [.. curve.Select(c => c.Step).Distinct().Order()];
        string md2 = TwinRun.Header("Reversal curse: masked diffusion vs autoregressive, one token per name", o, m, train.Count, test.Count,
                $"seed {o.Seed}: {pairs} pairs of made-up names, a third stated in both layouts, a third child-first only, a third parent-first only")
            + $"Word-level vocabulary built from the statements ({tok.VocabSize} tokens: every name is one token). Training text (empty prompt, "
            + "the statement as the response): `A is the child of B` and/or `B is the parent of A`. Questions are prefixes of the trained layouts: "
            + "`forward` = a one-layout pair asked in its own layout; `reversed` = the same pair asked in the other layout (trained on other pairs, "
            + "never on this one); `reversed-infill` = the trained statement with its first name masked (MDM only: an AR model cannot be asked this); "
            + "`control` = pairs stated in both layouts, asked in both. Greedy; the MDM decodes one token per step, EOS-padded to the training length.\n\n"
            + table + "\nForward and reversed accuracy at each checkpoint (MDM forward | MDM reversed | AR forward | AR reversed):\n\n"
            + Markdown.Table(["step", "epochs", "MDM fwd", "MDM rev", "AR fwd", "AR rev"],
                steps.Select(s => (IReadOnlyList<string>)[s.ToString(System.Globalization.CultureInfo.InvariantCulture), Markdown.Num(s * epochs, "F0"), .. Row(s).Split(" | ")]));
        double[] x = [.. steps.Select(s => s * epochs)];
        double[] Series(string kind, string k) => [.. steps.Select(s => 100 * (curve.FirstOrDefault(c => c.Kind == kind && c.Step == s).Report?.Kind(k)?.Accuracy ?? double.NaN))];
        return new ExperimentOutcome(md2, new PlotSpec("Reversal curse: recall of pairs stated in one layout only", "epochs", "accuracy (%)", [],
            [("MDM forward", Series("mdm", "forward")), ("MDM reversed", Series("mdm", "reversed")), ("AR forward", Series("ar", "forward")), ("AR reversed", Series("ar", "reversed"))], x));
    }
}
