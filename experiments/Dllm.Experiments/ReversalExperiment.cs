using Dllm.Model;
using Dllm.Text;

namespace Dllm.Experiments;

/// <summary>
/// The reversal curse (<see cref="ReversalTask"/>). MDM and AR twins learn
/// the same statements; accuracy on forward and reversed questions about pairs stated forward only.
/// Expected from the literature: MDM reversed ≈ forward; AR reversed near 0.
/// </summary>
public sealed class ReversalExperiment(bool poems = false) : IExperiment
{
    public string Name => poems ? "poem" : "reversal";
    public string Description => poems
        ? "Poem reversal (LLaDA): given a line, the next line vs the previous line; MDM vs AR"
        : "Reversal curse: 'A's parent is B' learned, 'B is the parent of ?' asked; MDM vs AR";

    private string[] Kinds => poems ? ["next", "prev", "prev-infill"] : ["forward", "reversed", "reversed-infill", "control-reversed"];

    public ExperimentOutcome Run(ExperimentRunOptions o, Action<string> log, CancellationToken ct = default)
    {
        int pairs = o.Quick ? 8 : o.Size ?? (poems ? 120 : 100);
        var (train, test) = poems ? PoemTask.Generate(pairs, o.Seed) : ReversalTask.Generate(pairs, o.Seed);
        var config = o.Quick
            ? new TwinConfig { DModel = 32, Layers = 1, Heads = 2, Steps = 3, BatchSize = 4, Warmup = 1, Seed = o.Seed }
            : new TwinConfig { DModel = 128, Layers = 4, Heads = 4, Steps = 900, BatchSize = 32, LearningRate = 2e-3, Warmup = 50, Seed = o.Seed };
        TwinModels m = TwinRun.Train(o, config, train, test, log, ct);
        var tok = new ByteTokenizer();
        EvalReport mdm, ar;
        // The MDM was trained on EOS-padded canvases of the batch's longest statement and conditions on that tail.
        var mdmSettings = new EvalOptions { CanvasLength = TaskExample.MaxTokens(train, tok) };
        using (var model = Transformer.Load(m.MdmDir)) mdm = TaskEvaluator.Evaluate(model, false, tok, test, mdmSettings, ct);
        using (var model = Transformer.Load(m.ArDir)) ar = TaskEvaluator.Evaluate(model, true, tok, test, new EvalOptions(), ct);
        string Cell(EvalReport r, string k) => r.Kind(k) is { Total: > 0 } s ? $"{Markdown.Percent(s.Accuracy)} ({s.Correct}/{s.Total})" : "n/a (cannot infill)";
        log(string.Join("; ", Kinds.Select(k => $"{k}: MDM {Cell(mdm, k)}, AR {Cell(ar, k)}")));

        string md = (poems ? TwinRun.Header("Poem reversal: next line vs previous line, masked diffusion vs autoregressive", o, m, train.Count, test.Count,
                $"seed {o.Seed}: {pairs} synthetic four-line poems, question formats taught on half, the other half asked")
            + "Every poem is learned as text (four distinct lines of three words, newline-separated). For half of the poems the questions "
            + "`next: L_k` → `L_k+1` and `prev: L_k+1` → `L_k` are trained too; the other half are asked them: `next` (reading direction), "
            + "`prev` (reverse), and `prev-infill` = the poem with its first line masked → that line (MDM only). Greedy; the MDM decodes the "
            + "exact answer length in one block, one token per step.\n\n"
            : TwinRun.Header("Reversal curse: masked diffusion vs autoregressive", o, m, train.Count, test.Count,
                $"seed {o.Seed}: {pairs} pairs of made-up five-letter names, half stated both ways, half forward only")
            + "Training text: `A's parent is B.` for every pair, plus `B is the parent of A.` for half of them. Questions on the forward-only half: "
            + "`forward` = `A's parent is` → ` B.`; `reversed` = `B is the parent of` → ` A.`; `reversed-infill` = `[MASK:5]'s parent is B.` → `A` "
            + "(the MDM fills the name into the learned sentence; an AR model cannot be asked this). `control-reversed` = the reversed question on pairs "
            + "that were also stated reversed (memorisation). Greedy decoding; the MDM decodes its answer canvas in one block, one token per step, EOS-padded to the training length.\n\n")
            + Markdown.Table(["question", "MDM", "AR"], Kinds.Select(k => (IReadOnlyList<string>)[k, Cell(mdm, k), Cell(ar, k)]));
        var plot = new PlotSpec(poems ? "Poem reversal: next vs previous line on untaught poems" : "Reversal curse: accuracy on pairs stated forward only", "", "accuracy (%)", Kinds,
            [("MDM", [.. Kinds.Select(k => 100 * (mdm.Kind(k)?.Accuracy ?? double.NaN))]), ("AR", [.. Kinds.Select(k => 100 * (ar.Kind(k)?.Accuracy ?? double.NaN))])]);
        return new ExperimentOutcome(md, plot);
    }
}
