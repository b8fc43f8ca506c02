using Dllm.Experiments;
using ScottPlot;

namespace Dllm.Cli;

/// <summary>Renders an experiment's <see cref="PlotSpec"/> to a PNG with ScottPlot: grouped bars, or lines over X.</summary>
internal static class ExperimentPlot
{
    public static void Save(PlotSpec spec, string path, int width = 900, int height = 520)
    {
        var plt = new Plot();
        plt.Title(spec.Title);
        plt.XLabel(spec.XLabel);
        plt.YLabel(spec.YLabel);
        IPalette palette = new ScottPlot.Palettes.Category10();
        if (spec.X is null)
        {
            int groups = spec.Categories.Count, series = spec.Series.Count;
            double width1 = 0.8 / series;
            var bars = new List<Bar>();
            for (int s = 0; s < series; s++)
            {
                Color color = palette.GetColor(s);
                for (int g = 0; g < groups; g++)
                {
                    double v = spec.Series[s].Values[g];
                    if (double.IsNaN(v)) continue;
                    bars.Add(new Bar { Position = g + (s - (series - 1) / 2.0) * width1, Value = v, Size = width1 * 0.95, FillColor = color, Label = v.ToString(v < 10 ? "0.##" : "0.#", System.Globalization.CultureInfo.InvariantCulture) });
                }
                if (series > 1) plt.Legend.ManualItems.Add(new LegendItem { LabelText = spec.Series[s].Name, FillColor = color });
            }
            var barPlot = plt.Add.Bars(bars);
            barPlot.ValueLabelStyle.FontSize = 12;
            plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
                [.. Enumerable.Range(0, groups).Select(g => (double)g)], [.. spec.Categories]);
            if (groups > 5)
            {
                plt.Axes.Bottom.TickLabelStyle.Rotation = 30;
                plt.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
                plt.Axes.Bottom.MinimumSize = 140;
            }
        }
        else
        {
            for (int s = 0; s < spec.Series.Count; s++)
            {
                var sc = plt.Add.Scatter(spec.X, spec.Series[s].Values, palette.GetColor(s));
                sc.LegendText = spec.Series[s].Name;
                sc.MarkerSize = 7;
            }
            if (spec.Categories.Count == spec.X.Length)
                plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(spec.X, [.. spec.Categories]);
        }
        // Head room above the tallest value so the legend (upper right) and bar labels stay clear of the data.
        double max = spec.Series.SelectMany(x => x.Values).Where(double.IsFinite).DefaultIfEmpty(1).Max();
        double top = spec.YLabel.Contains('%') && max <= 100 ? 125 : Math.Max(max, 1e-9) * 1.3;
        plt.Axes.SetLimitsY(0, top);
        if (spec.X is not null) plt.Axes.SetLimitsX(spec.X.Min() - 0.3, spec.X.Max() + 0.3);
        if (spec.Series.Count > 1 || spec.X is not null) plt.ShowLegend(Alignment.UpperRight);
        plt.SavePng(path, width, height);
    }
}
