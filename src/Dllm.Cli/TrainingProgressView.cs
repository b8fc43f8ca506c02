using System.Diagnostics;
using Dllm.Training;
using Spectre.Console;

namespace Dllm.Cli;

/// <summary>
/// How <c>dllm train</c> and <c>dllm sft</c> show progress: a Spectre.Console bar (step, loss,
/// tokens/s, elapsed, ETA) on stderr when stderr is an interactive terminal; otherwise (CI, tests,
/// <c>2&gt; file</c>) a plain line every 10 steps and at the last one, with the same figures, so logs
/// stay greppable and free of escape codes.
/// </summary>
internal static class TrainingProgressView
{
    /// <summary>Runs <paramref name="train"/>, giving it the per-step callback that updates the view.</summary>
    /// <param name="label">What is being trained, shown left of the bar.</param>
    /// <param name="train">The training call; it must invoke the callback once per optimizer step.</param>
    public static void Run(string label, Action<Action<TrainProgress>> train)
    {
        IAnsiConsole err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected || !err.Profile.Capabilities.Interactive) { RunPlain(train); return; }

        err.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                ProgressTask? task = null;
                long first = 0;
                train(p =>
                {
                    // The bar counts this run's steps only, so a resumed run's ETA is not skewed by the jump.
                    if (task is null)
                    {
                        first = p.Step - 1;
                        task = ctx.AddTask(label, maxValue: Math.Max(1, p.TotalSteps - first));
                    }
                    task.Value = p.Step - first;
                    task.Description = Markup.Escape($"{label}  step {p.Step}/{p.TotalSteps}  loss {p.Loss:F4}  {p.TokensPerSecond:N0} tok/s");
                });
            });
    }

    private static void RunPlain(Action<Action<TrainProgress>> train)
    {
        var sw = Stopwatch.StartNew();
        long first = -1;
        train(p =>
        {
            if (first < 0) first = p.Step - 1;
            if (p.Step % 10 != 0 && p.Step != p.TotalSteps) return;
            double perStep = sw.Elapsed.TotalSeconds / (p.Step - first);
            var eta = TimeSpan.FromSeconds(Math.Round(perStep * (p.TotalSteps - p.Step)));
            Console.Error.WriteLine($"step {p.Step}/{p.TotalSteps}  loss {p.Loss:F4}  grad {p.GradNorm:F2}  lr {p.LearningRate:E2}  {p.TokensPerSecond:F0} tok/s  ETA {eta:hh\\:mm\\:ss}");
        });
    }
}
