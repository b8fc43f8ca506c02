using System.Globalization;
using System.Text;

namespace Dllm.Experiments;

/// <summary>
/// A chart described as data (the library draws nothing; the CLI renders it with ScottPlot):
/// grouped bars over <see cref="Categories"/> when <see cref="X"/> is null, else lines over X.
/// </summary>
public sealed record PlotSpec(string Title, string XLabel, string YLabel, IReadOnlyList<string> Categories,
    IReadOnlyList<(string Name, double[] Values)> Series, double[]? X = null);

/// <summary>What an experiment hands back: results.md text and the chart for plot.png.</summary>
public sealed record ExperimentOutcome(string Markdown, PlotSpec Plot);

/// <summary>How an experiment is run (the flags of <c>dllm experiment NAME</c>).</summary>
public sealed record ExperimentRunOptions
{
    /// <summary>Tiny data, model and step counts: a seconds-long end-to-end check, not a result.</summary>
    public bool Quick { get; init; }
    public int Seed { get; init; } = 1;
    public required string OutDir { get; init; }
    /// <summary>Overrides the recipe's training steps (both models).</summary>
    public int? Steps { get; init; }
    /// <summary>Overrides the recipe's peak learning rate (families only). Null = the recipe's.</summary>
    public double? LearningRate { get; init; }
    /// <summary>Overrides the task size: pairs of names (reversal), poems (poem). Null = the recipe's.</summary>
    public int? Size { get; init; }
    /// <summary>A text file for the likelihood experiment (default data/kjv-excerpt.txt under the working directory).</summary>
    public string? Data { get; init; }
    /// <summary>The command line that ran this, recorded in results.md.</summary>
    public string Command { get; init; } = "";
}

/// <summary>One MDM-vs-AR experiment: generates its data, trains both model kinds, evaluates, reports.</summary>
public interface IExperiment
{
    string Name { get; }
    string Description { get; }
    ExperimentOutcome Run(ExperimentRunOptions options, Action<string> log, CancellationToken ct = default);
}

/// <summary>Markdown helpers for results.md (invariant culture: numbers read the same everywhere).</summary>
public static class Markdown
{
    public static string Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var sb = new StringBuilder();
        sb.Append("| ").AppendJoin(" | ", header).AppendLine(" |");
        sb.Append('|').AppendJoin("", header.Select(_ => "---|")).AppendLine();
        foreach (IReadOnlyList<string> r in rows) sb.Append("| ").AppendJoin(" | ", r).AppendLine(" |");
        return sb.ToString();
    }

    public static string Percent(double fraction) => double.IsNaN(fraction) ? "n/a" : (100 * fraction).ToString("F1", CultureInfo.InvariantCulture) + " %";
    public static string Num(double x, string format = "F2") => x.ToString(format, CultureInfo.InvariantCulture);
}
