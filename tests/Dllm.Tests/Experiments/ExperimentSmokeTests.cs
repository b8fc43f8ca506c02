using Dllm.Experiments;
using Dllm.Training;

namespace Dllm.Tests.Experiments;

/// <summary>
/// Each experiment end to end at its --quick size (tiny data, model and steps; seconds): data written,
/// both models trained and evaluated, a results table. They check the pipeline, not that models learn.
/// </summary>
public class ExperimentSmokeTests
{
    private static (ExperimentOutcome Outcome, string Dir) Quick(IExperiment e, string? data = null)
    {
        string dir = TestPaths.TempDir();
        return (e.Run(new ExperimentRunOptions { Quick = true, OutDir = dir, Data = data, Command = "test" }, _ => { }), dir);
    }

    [Fact]
    public void Sudoku_quick_trains_both_kinds_and_reports_three_rows()
    {
        var (o, dir) = Quick(new SudokuExperiment());
        Assert.Equal(Dllm.Model.ModelKind.MaskedDiffusion, Dllm.Model.ModelConfig.Load(Path.Combine(dir, "models", "mdm", "config.json")).Kind);
        Assert.Equal(Dllm.Model.ModelKind.Autoregressive, Dllm.Model.ModelConfig.Load(Path.Combine(dir, "models", "ar", "config.json")).Kind);
        Assert.Contains("| AR | greedy left to right |", o.Markdown);
        Assert.Equal(3, o.Plot.Categories.Count);
        Assert.Equal(8, TaskExample.ReadJsonl(Path.Combine(dir, "data", "test.jsonl")).Count);
        Assert.Empty(TaskExample.ReadJsonl(Path.Combine(dir, "data", "test.jsonl")).Select(e => e.Prompt)
            .Intersect(TaskExample.ReadJsonl(Path.Combine(dir, "data", "train.jsonl")).Select(e => e.Prompt)));
    }

    [Fact]
    public void Sudoku_9x9_quick_keeps_36_clues_and_scores_blank_cells()
    {
        string dir = TestPaths.TempDir();
        ExperimentOutcome o = new SudokuExperiment().Run(new ExperimentRunOptions { Quick = true, OutDir = dir, Size = 9, Command = "test" }, _ => { });
        Assert.Contains("# Sudoku 9×9", o.Markdown);
        Assert.Contains("blank cells right", o.Markdown);
        var test = TaskExample.ReadJsonl(Path.Combine(dir, "data", "test.jsonl"));
        Assert.All(test, e =>
        {
            Assert.Equal(SudokuExperiment.Clues9, e.Prompt.Count(c => c is >= '1' and <= '9'));
            Assert.True(SudokuTask.IsValidSolution(e.Prompt, e.Response));
            Assert.Equal(1, SudokuTask.CountSolutions(e.Prompt));
        });
        Assert.Throws<ArgumentException>(() => new SudokuExperiment().Run(new ExperimentRunOptions { Quick = true, OutDir = dir, Size = 5 }, _ => { }));
    }

    [Fact]
    public void Multiplication_quick_adapts_each_AR_twin_and_reports_six_models()
    {
        var (o, dir) = Quick(new MultiplicationExperiment());
        foreach (string variant in new[] { "direct", "cot" })
        {
            var adapted = Dllm.Model.ModelConfig.Load(Path.Combine(dir, variant, "models", "mdm-adapted", "config.json"));
            Assert.Equal(Dllm.Model.ModelKind.MaskedDiffusion, adapted.Kind);
            Assert.True(adapted.ShiftLogits); // adapted from AR: logits stay shifted
        }
        Assert.Contains("| n × n digits | MDM direct | AR direct | MDM←AR direct | MDM CoT | AR CoT | MDM←AR CoT |", o.Markdown);
        Assert.Equal(6, o.Plot.Series.Count);
    }

    [Fact]
    public void Reversal_quick_reports_every_question_kind()
    {
        var (o, _) = Quick(new ReversalExperiment());
        foreach (string k in new[] { "| forward |", "| reversed |", "| reversed-infill |", "| control |", "n/a (cannot infill)" })
            Assert.Contains(k, o.Markdown);
    }

    [Fact]
    public void Poem_quick_reports_next_prev_and_infill()
    {
        var (o, dir) = Quick(new ReversalExperiment(poems: true));
        foreach (string k in new[] { "| next |", "| prev |", "| prev-infill |" }) Assert.Contains(k, o.Markdown);
        Assert.Contains(TaskExample.ReadJsonl(Path.Combine(dir, "data", "train.jsonl")), e => e.Kind == "poem");
    }

    [Fact]
    public void Speed_quick_reports_plain_threshold_and_both_caches()
    {
        var (o, _) = Quick(new SpeedExperiment());
        foreach (string k in new[] { "| plain, 1 step/token |", "| plain, 1/8 step/token |", "| + prefix cache |", "| + dual cache |" })
            Assert.Contains(k, o.Markdown);
        Assert.Contains("| 1.000 |", o.Markdown); // the plain sampler: one forward per token
    }

    [Fact]
    public void Likelihood_quick_scores_both_models_on_held_out_text()
    {
        string text = Path.Combine(TestPaths.TempDir(), "t.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Range(0, 40).Select(i => $"line {i}: in the beginning was the word.\n")));
        var (o, dir) = Quick(new LikelihoodExperiment(), text);
        Assert.Contains("| held-out |", o.Markdown);
        Assert.True(File.Exists(Path.Combine(dir, "data", "heldout.txt")));
        Assert.All(o.Plot.Series.SelectMany(s => s.Values), v => Assert.InRange(v, 0.5, 8)); // nats/byte of a barely trained model: near ln 262 ≈ 5.6
    }

    [Fact]
    public void Adapt_quick_trains_five_models_and_scores_each()
    {
        string text = Path.Combine(TestPaths.TempDir(), "t.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Range(0, 40).Select(i => $"line {i}: in the beginning was the word.\n")));
        var (o, dir) = Quick(new AdaptExperiment(), text);
        Assert.Contains("| masked diffusion (bound) |", o.Markdown);
        Assert.Contains("| block diffusion (bound) |", o.Markdown);
        Assert.True(Dllm.Model.ModelConfig.Load(Path.Combine(dir, "models", "bd3-adapted", "config.json")).ShiftLogits);
        Assert.All(o.Plot.Series.SelectMany(s => s.Values), v => Assert.InRange(v, 0.5, 8));
    }

    [Fact]
    public void Families_quick_trains_all_six_families_and_scores_each()
    {
        var (o, dir) = Quick(new FamiliesExperiment());
        var kinds = new Dictionary<string, Dllm.Model.ModelKind>
        {
            ["ar"] = Dllm.Model.ModelKind.Autoregressive, ["mdm"] = Dllm.Model.ModelKind.MaskedDiffusion, ["bd3"] = Dllm.Model.ModelKind.BlockDiffusion,
            ["diffuseq"] = Dllm.Model.ModelKind.DiffuSeq, ["diffusion-lm"] = Dllm.Model.ModelKind.DiffusionLm, ["ssd-lm"] = Dllm.Model.ModelKind.SsdLm,
        };
        foreach (var (name, kind) in kinds)
            Assert.Equal(kind, Dllm.Model.ModelConfig.Load(Path.Combine(dir, "models", name, "config.json")).Kind);
        foreach (string row in new[] { "| AR |", "| MDM |", "| BD3 |", "| DiffuSeq |", "| Diffusion-LM |", "| SSD-LM |", "(exact NLL)", "(ELBO bound)", "not a bound" })
            Assert.Contains(row, o.Markdown);
        Assert.Equal(6, o.Plot.Series.Count);
        Assert.Empty(TaskExample.ReadJsonl(Path.Combine(dir, "data", "test.jsonl")).Select(e => e.Prompt)
            .Intersect(TaskExample.ReadJsonl(Path.Combine(dir, "data", "train.jsonl")).Select(e => e.Prompt)));
    }

    [Fact]
    public void Families_text_quick_trains_all_six_families_on_text_and_scores_each()
    {
        string text = Path.Combine(TestPaths.TempDir(), "kjv.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("In the beginning God created the heaven and the earth.\n", 40)));
        var (o, dir) = Quick(new FamiliesTextExperiment(), text);
        Assert.Equal(Dllm.Model.ModelKind.BlockDiffusion, Dllm.Model.ModelConfig.Load(Path.Combine(dir, "models", "bd3", "config.json")).Kind);
        Assert.Equal(Dllm.Model.ModelKind.DiffuSeq, Dllm.Model.ModelConfig.Load(Path.Combine(dir, "models", "diffuseq", "config.json")).Kind);
        foreach (string row in new[] { "| AR |", "| MDM |", "| BD3 |", "| DiffuSeq |", "| Diffusion-LM |", "| SSD-LM |", "(exact NLL)", "(ELBO bound)", "not a bound" })
            Assert.Contains(row, o.Markdown);
        Assert.Equal(6, o.Plot.Series.Count);
        Assert.All(o.Plot.Series.SelectMany(s => s.Values), v => Assert.InRange(v, 0, 100));
    }

    [Fact]
    public void Speed_without_a_trained_sudoku_model_says_what_to_run()
    {
        string dir = Path.Combine(TestPaths.TempDir(), "speed");
        var e = Assert.Throws<DirectoryNotFoundException>(() => new SpeedExperiment().Run(new ExperimentRunOptions { OutDir = dir }, _ => { }));
        Assert.Contains("run `dllm experiment sudoku` first", e.Message);
    }
}
