using System.CommandLine;
using System.Globalization;
using Dllm.Experiments;
using Dllm.Model;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Cli;

/// <summary>
/// <c>dllm experiment NAME</c> runs one of the MDM-vs-AR experiments end to end (data with a seed, MDM and
/// AR twins trained side by side, evaluation, results.md and plot.png in --out);
/// <c>dllm experiment gen TASK</c> writes a task's JSONL; <c>dllm experiment eval</c> scores a trained
/// model on any JSONL file of that format.
/// </summary>
internal static class ExperimentCommand
{
    internal static readonly IExperiment[] All = [new SudokuExperiment(), new ReversalExperiment(), new ReversalExperiment(poems: true), new SpeedExperiment(), new SpeedExperiment(rot13: true), new LikelihoodExperiment(), new MultiplicationExperiment(), new AdaptExperiment(), new FamiliesExperiment(), new FamiliesTextExperiment()];

    public static Command Create()
    {
        var cmd = new Command("experiment", "The seeds' claims in miniature: MDM vs AR on reasoning tasks");
        foreach (IExperiment e in All) cmd.Subcommands.Add(RunCommand(e));
        cmd.Subcommands.Add(GenCommand());
        cmd.Subcommands.Add(EvalCommand());
        return cmd;
    }

    private static Command RunCommand(IExperiment e)
    {
        var quick = new Option<bool>("--quick") { Description = "Tiny data, model and steps: checks the pipeline in seconds (numbers mean nothing)" };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1, Description = "Seed of the data and the training" };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output directory (default experiments/NAME)" };
        var steps = new Option<int?>("--steps") { Description = "Override the training steps (both models)" };
        var size = new Option<int?>("--size") { Description = "reversal/poem: number of name pairs / poems (default 150 / 120); families: training pairs (default 1200); sudoku: 4 or 9 (grid size, default 4)" };
        var data = new Option<FileInfo>("--data") { Description = "likelihood, speed-rot13: the text to train and score on / cut passages from (default data/kjv-excerpt.txt)" };
        var lr = new Option<double?>("--lr") { Description = "families only: peak learning rate of every family (default 2e-3)" };
        var threads = ThreadsOption.Create();
        var cmd = new Command(e.Name, e.Description) { quick, seed, output, steps, size, data, threads };
        if (e is FamiliesExperiment) cmd.Options.Add(lr);
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            if (r.GetValue(steps) is int s && s <= 0) throw new ArgumentException($"--steps must be positive, got {s}");
            if (r.GetValue(size) is int z && z <= 0) throw new ArgumentException($"--size must be positive, got {z}");
            if (r.GetValue(lr) is double l && !(l > 0 && l < 1)) throw new ArgumentException($"--lr must be in (0, 1), got {l}");
            string outDir = r.GetValue(output)?.FullName ?? Path.GetFullPath(Path.Combine("experiments", e.Name));
            Directory.CreateDirectory(outDir);
            string command = "dllm experiment " + e.Name + (r.GetValue(quick) ? " --quick" : "") + $" --seed {r.GetValue(seed)}"
                + (r.GetValue(steps) is int st ? $" --steps {st}" : "") + (r.GetValue(size) is int sz ? $" --size {sz}" : "") + (r.GetValue(lr) is double lv ? string.Create(CultureInfo.InvariantCulture, $" --lr {lv:G3}") : "") + (r.GetValue(output) is not null ? $" --out {r.GetValue(output)!.Name}" : "");
            var options = new ExperimentRunOptions { Quick = r.GetValue(quick), Seed = r.GetValue(seed), OutDir = outDir, Steps = r.GetValue(steps), Size = r.GetValue(size), Data = r.GetValue(data)?.FullName, LearningRate = r.GetValue(lr), Command = command };
            var sw = System.Diagnostics.Stopwatch.StartNew();
            ExperimentOutcome outcome = e.Run(options, msg => Console.Error.WriteLine($"[{sw.Elapsed:mm\\:ss}] {msg}"));
            string md = outcome.Markdown + string.Create(CultureInfo.InvariantCulture, $"\nTotal wall-clock of the command: {sw.Elapsed.TotalMinutes:F1} min.\n");
            File.WriteAllText(Path.Combine(outDir, "results.md"), md);
            File.WriteAllText(Path.Combine(outDir, "command.txt"), command + "\n");
            ExperimentPlot.Save(outcome.Plot, Path.Combine(outDir, "plot.png"));
            Console.WriteLine(md);
            Console.Error.WriteLine($"wrote {Path.Combine(outDir, "results.md")} and plot.png");
            return 0;
        }));
        return cmd;
    }

    private static Command GenCommand()
    {
        var task = new Argument<string>("task") { Description = string.Join(" | ", TaskGenerators.Names) };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var count = new Option<int>("--count") { DefaultValueFactory = _ => 100, Description = "Examples to write" };
        var output = new Option<FileInfo>("--out") { Description = "JSONL file to write", Required = true };
        var cmd = new Command("gen", "Write a task's examples as JSONL ({prompt, response, kind} per line)") { task, seed, count, output };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            int n = r.GetValue(count), s = r.GetValue(seed);
            List<TaskExample> examples = TaskGenerators.Generate(r.GetValue(task)!, n, s);
            TaskExample.WriteJsonl(r.GetValue(output)!.FullName, examples);
            Console.Error.WriteLine($"wrote {examples.Count} examples to {r.GetValue(output)!.FullName}");
            return 0;
        }));
        return cmd;
    }

    private static Command EvalCommand()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Checkpoint trained by an experiment (MDM or AR)", Required = true };
        var size = new Option<int?>("--size") { Description = "reversal/poem only: number of name pairs / poems (default 150 / 120)" };
        var data = new Option<FileInfo>("--data") { Description = "JSONL of {prompt, response, kind}", Required = true };
        var stepsPerToken = new Option<double>("--steps-per-token") { DefaultValueFactory = _ => 1, Description = "MDM: denoising steps per answer token (1, 0.5, ...)" };
        var canvas = new Option<int?>("--canvas-length") { Description = "MDM: EOS-pad every canvas to this many tokens (the training length)" };
        // The canvas is each question's answer, so its length, steps and cap are not flags here.
        var knobOptions = new KnobOptions("gen_length", "max_tokens", "steps");
        var show = new Option<int>("--show") { DefaultValueFactory = _ => 0, Description = "Print the first N questions with the model's answer" };
        var threads = ThreadsOption.Create();
        var cmd = new Command("eval", "Score a trained model on a task JSONL file: exact-match accuracy per kind, forwards/token, tokens/s. "
            + "An MDM takes the decoding flags of generate, except the lengths: the canvas is each answer plus EOS, --block-length defaults to one block, "
            + "the steps come from --steps-per-token")
            { model, data, stepsPerToken, canvas, show, threads };
        foreach (Option o in knobOptions.All) cmd.Options.Add(o);
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            var settings = new EvalOptions
            {
                Decoding = knobOptions.Read(r).AsSet, StepsPerToken = r.GetValue(stepsPerToken), CanvasLength = r.GetValue(canvas),
            };
            List<TaskExample> items = TaskExample.ReadJsonl(r.GetValue(data)!.FullName);
            using Transformer m = Transformer.Load(ModelOption.Resolve(r.GetValue(model)));
            if (m.Config.IsContinuous) throw new NotSupportedException($"experiment eval decodes masked diffusion and AR models; a {m.Config.KindName} checkpoint runs under `dllm generate` and `dllm eval`");
            bool autoregressive = m.Config.Kind == ModelKind.Autoregressive;
            string dir = ModelOption.Resolve(r.GetValue(model));
            EvalReport rep = TaskEvaluator.Evaluate(m, autoregressive, File.Exists(Path.Combine(dir, "tokenizer.json")) ? TokenizerLoader.Load(dir) : new ByteTokenizer(), items, settings);
            foreach (var (item, answer) in rep.Outputs.Take(r.GetValue(show)))
                Console.WriteLine($"{(answer == item.Response ? "right" : "wrong")} [{item.Kind}] {Escape(item.Prompt)} → {Escape(answer)}   (expected {Escape(item.Response)})");
            foreach (KindScore k in rep.Kinds)
                Console.WriteLine($"{(k.Kind.Length == 0 ? "(all)" : k.Kind)}: {(k.Total == 0 ? "n/a (AR cannot infill)" : $"{k.Correct}/{k.Total} = {Markdown.Percent(k.Accuracy)}")}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(autoregressive ? "AR greedy" : "MDM " + settings.Label)}: {rep.Correct}/{rep.Total} = {Markdown.Percent(rep.Accuracy)}, {rep.ForwardsPerToken:F3} forwards/token, {rep.TokensPerSecond:F0} tokens/s"));
            return 0;
        }));
        return cmd;
    }

    private static string Escape(string s) => s.Replace("\n", "\\n");
}
