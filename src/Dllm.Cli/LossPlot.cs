using Dllm.Training;
using ScottPlot;

namespace Dllm.Cli;

/// <summary>
/// <c>loss.png</c>: the training loss curve of a run, drawn from its <c>train_log.csv</c> (so a
/// resumed run plots as one curve). Raw per-step losses in a light line, a moving average over
/// ~2 % of the run on top (the MDM loss is noisy: each batch draws its own masking ratio t).
/// </summary>
internal static class LossPlot
{
    public const string FileName = "loss.png";

    /// <summary>Writes <c>DIR/loss.png</c> from <c>DIR/train_log.csv</c> and returns its path.</summary>
    /// <exception cref="FileNotFoundException">The run has no log.</exception>
    /// <exception cref="InvalidDataException">The log is malformed or has no rows.</exception>
    public static string Write(string runDir, string title)
    {
        List<TrainLog.Row> rows = TrainLog.Read(Path.Combine(runDir, TrainLog.FileName));
        if (rows.Count == 0) throw new InvalidDataException($"{Path.Combine(runDir, TrainLog.FileName)} has no rows to plot");
        double[] steps = rows.Select(r => (double)r.Step).ToArray();
        double[] loss = rows.Select(r => r.Loss).ToArray();

        var plot = new Plot();
        var raw = plot.Add.ScatterLine(steps, loss);
        raw.LineWidth = 1;
        raw.Color = Colors.SteelBlue.WithAlpha(0.35);
        raw.LegendText = "loss per step";
        int window = Math.Max(1, rows.Count / 50);
        if (window > 1)
        {
            var smooth = plot.Add.ScatterLine(steps, MovingAverage(loss, window));
            smooth.LineWidth = 2;
            smooth.Color = Colors.DarkBlue;
            smooth.LegendText = $"moving average ({window} steps)";
        }
        plot.Title(title);
        plot.XLabel("optimizer step");
        plot.YLabel("training loss (nats/token)");
        plot.ShowLegend(Alignment.UpperRight);
        string path = Path.Combine(runDir, FileName);
        plot.SavePng(path, 900, 500);
        return path;
    }

    /// <summary>Trailing mean over up to <paramref name="window"/> values (shorter at the start).</summary>
    private static double[] MovingAverage(double[] x, int window)
    {
        var y = new double[x.Length];
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += x[i];
            if (i >= window) sum -= x[i - window];
            y[i] = sum / Math.Min(i + 1, window);
        }
        return y;
    }
}
