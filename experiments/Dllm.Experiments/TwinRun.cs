using System.Globalization;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Experiments;

/// <summary>The trained pair of a task experiment and how it was made.</summary>
public sealed record TwinModels(string MdmDir, string ArDir, string ConfigLine, double MdmSeconds, double ArSeconds,
    double MdmFinalLoss, double ArFinalLoss);

/// <summary>
/// The common part of the task experiments: write the data (OutDir/data/train.jsonl, test.jsonl, so
/// that <c>dllm experiment eval</c> can re-score them), train the MDM and AR twins side by side into
/// OutDir/models/{mdm,ar}, and report what was trained.
/// </summary>
public static class TwinRun
{
    /// <summary>Trains the twins (with <paramref name="tok"/>, bytes by default). <paramref name="probe"/>(kind, step, dir), when
    /// given, is called on the training thread for every checkpoint but the last (<see cref="TwinConfig.Checkpoints"/>), once it is on disk.</summary>
    public static TwinModels Train(ExperimentRunOptions o, TwinConfig config, IReadOnlyList<TaskExample> train,
        IReadOnlyList<TaskExample> test, Action<string> log, CancellationToken ct, ITokenizer? tok = null,
        Action<string, long, string>? probe = null)
    {
        string data = Path.Combine(o.OutDir, "data"), models = Path.Combine(o.OutDir, "models");
        TaskExample.WriteJsonl(Path.Combine(data, "train.jsonl"), train);
        TaskExample.WriteJsonl(Path.Combine(data, "test.jsonl"), test);
        config = Effective(o, config);
        log($"training MDM and AR twins on {train.Count} examples, {config.Steps} steps each, 1 kernel thread each");
        int every = config.SaveEvery;
        var (tm, ta) = TwinTraining.TrainBoth(config, train, models, (kind, p) =>
        {
            // The checkpoint of step p.Step - 1 was written after the previous callback.
            if (probe is not null && p.Step > 1 && (p.Step - 1) % every == 0) probe(kind, p.Step - 1, Path.Combine(models, kind));
            if (p.Step % 100 == 0 || p.Step == p.TotalSteps)
                log(string.Create(CultureInfo.InvariantCulture, $"{kind} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4} ({p.TokensPerSecond:F0} tok/s)"));
        }, ct, tok);
        string mdm = Path.Combine(models, "mdm"), ar = Path.Combine(models, "ar");
        var net = new TrainableModel(Dllm.Model.ModelConfig.Load(Path.Combine(mdm, "config.json")));
        string line = config.Describe(net.Config, net.Parameters.Count);
        return new TwinModels(mdm, ar, line, tm, ta, Smoothed(mdm), Smoothed(ar));
    }

    /// <summary>The recipe as run: --steps, when given, replaces its steps (warmup at most a tenth of them).</summary>
    public static TwinConfig Effective(ExperimentRunOptions o, TwinConfig config)
        => o.Steps is int s ? config with { Steps = s, Warmup = Math.Min(config.Warmup, s / 10) } : config;

    /// <summary>Mean loss of the last 10 % of steps in train_log.csv (the final loss, less noisy).</summary>
    private static double Smoothed(string dir)
    {
        var losses = File.ReadLines(Path.Combine(dir, "train_log.csv")).Skip(1)
            .Select(l => double.Parse(l.Split(',')[1], CultureInfo.InvariantCulture)).ToList();
        return losses.Skip(losses.Count - Math.Max(1, losses.Count / 10)).Average();
    }

    /// <summary>The results.md header every experiment shares: command, seeds, config, wall-clock.</summary>
    public static string Header(string title, ExperimentRunOptions o, TwinModels m, int trainCount, int testCount, string dataSeeds)
        => $"# {title}\n\nCommand: `{o.Command}`\n\n" +
           $"Data: {trainCount} training examples, {testCount} held-out test questions ({dataSeeds}); files in `data/` " +
           "(re-score any JSONL in this format with `dllm experiment eval --model DIR --data FILE`).\n\n" +
           $"Both models: {m.ConfigLine}. Trained with one kernel thread each: MDM {m.MdmSeconds / 60:F1} min " +
           $"(final loss {m.MdmFinalLoss:F3}, masked-token CE/p), AR {m.ArSeconds / 60:F1} min (final loss {m.ArFinalLoss:F3}, next-token CE).\n\n";
}
