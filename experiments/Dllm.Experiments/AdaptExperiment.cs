using System.Diagnostics;
using System.Text;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Experiments;

/// <summary>
/// What adapting an autoregressive model buys (DiffuLLaMA, Gong et al. 2024; Fast-dLLM v2 and SDAR were made this
/// way from Qwen): an AR model pre-trained for N steps is adapted for M more steps into a masked diffusion model
/// (shifted logits, mask annealing, complementary masks) and into a block diffusion model (shifted logits,
/// complementary masks), against the same diffusion models trained from scratch for N + M steps — equal optimizer
/// steps and tokens per step (adapted runs use half the sequences per step, each with its complementary copy).
/// All on the bundled King James excerpt; reported: the held-out likelihood bound of each, the AR model's exact NLL
/// for scale, and one greedy sample per model.
/// </summary>
public sealed class AdaptExperiment : IExperiment
{
    public string Name => "adapt";
    public string Description => "AR-to-diffusion adaptation vs diffusion from scratch at equal compute (masked and block diffusion)";

    public ExperimentOutcome Run(ExperimentRunOptions o, Action<string> log, CancellationToken ct = default)
    {
        var (path, trainText, heldText) = HeldOutText.Read(o.Data);
        var tok = new ByteTokenizer();
        int seqLen = o.Quick ? 16 : 64, block = o.Quick ? 4 : 8, chunks = o.Quick ? 2 : 32, samples = o.Quick ? 8 : 64;
        var train = new TextCorpus([.. tok.Encode(trainText)]);
        var held = new TextCorpus([.. tok.Encode(heldText)]);
        if (held.Tokens.Length < seqLen + 1 || train.Tokens.Length < seqLen)
            throw new InvalidDataException($"'{path}' is too short: need at least {seqLen + 1} tokens in each of the training and held-out parts");
        var twin = o.Quick
            ? new TwinConfig { DModel = 32, Layers = 1, Heads = 2, Steps = 4, BatchSize = 4, Warmup = 1, Seed = o.Seed }
            : new TwinConfig { DModel = 128, Layers = 4, Heads = 4, Steps = 1500, BatchSize = 16, LearningRate = 2e-3, Warmup = 50, Seed = o.Seed };
        if (o.Steps is int s) twin = twin with { Steps = s, Warmup = Math.Min(twin.Warmup, s / 10) };
        int pretrain = twin.Steps * 2 / 3, adapt = twin.Steps - pretrain; // N and M; scratch runs take N + M
        ModelConfig shape = twin.Backbone(seqLen + 1);
        var baseOptions = new TrainerOptions
        {
            Config = shape, Steps = twin.Steps, BatchSize = twin.BatchSize, SeqLen = seqLen, LearningRate = twin.LearningRate,
            WarmupSteps = twin.Warmup, Seed = twin.Seed, SaveEvery = twin.Steps,
        };
        string models = Path.Combine(o.OutDir, "models");
        var minutes = new Dictionary<string, double>();
        void Timed(string name, Func<TrainableModel> run)
        {
            var sw = Stopwatch.StartNew();
            run();
            minutes[name] = sw.Elapsed.TotalMinutes;
            log($"{name}: {minutes[name]:F1} min");
        }
        Action<TrainProgress> Progress(string name) => p =>
        {
            if (p.Step % 100 == 0 || p.Step == p.TotalSteps) log($"{name} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4}");
        };
        string Dir(string name) => Path.Combine(models, name);
        foreach (string d in new[] { "ar", "mdm-adapted", "bd3-adapted", "mdm-scratch", "bd3-scratch" })
            if (Directory.Exists(Dir(d))) Directory.Delete(Dir(d), recursive: true);

        log($"AR pre-training {pretrain} steps, then {adapt} adaptation steps; scratch runs {twin.Steps} steps; {twin.BatchSize} × {seqLen} tokens per step");
        Timed("ar", () => Trainer.Run(baseOptions with { Objective = "ar", Steps = pretrain, WarmupSteps = Math.Min(twin.Warmup, pretrain / 10), SaveEvery = pretrain },
            train, tok, Dir("ar"), false, Progress("ar"), ct));
        TrainerOptions adapting = baseOptions with
        {
            Steps = adapt, BatchSize = Math.Max(1, twin.BatchSize / 2), Complementary = true, WarmupSteps = Math.Min(twin.Warmup, adapt / 10), SaveEvery = adapt,
        };
        Timed("mdm-adapted", () => Trainer.Adapt(adapting with { Objective = "mdm", AnnealSteps = adapt / 2 }, train, tok, Dir("ar"), Dir("mdm-adapted"), false, Progress("mdm-adapted"), ct));
        Timed("bd3-adapted", () => Trainer.Adapt(adapting with { Objective = "bd3", BlockSize = block }, train, tok, Dir("ar"), Dir("bd3-adapted"), false, Progress("bd3-adapted"), ct));
        Timed("mdm-scratch", () => Trainer.Run(baseOptions with { Objective = "mdm" }, train, tok, Dir("mdm-scratch"), false, Progress("mdm-scratch"), ct));
        Timed("bd3-scratch", () => Trainer.Run(baseOptions with { Objective = "bd3", BlockSize = block }, train, tok, Dir("bd3-scratch"), false, Progress("bd3-scratch"), ct));

        var bound = new Dictionary<string, double>();
        var sample = new Dictionary<string, string>();
        int[] prompt = [.. tok.Encode("And God said")];
        foreach (string name in minutes.Keys)
        {
            using Transformer model = Transformer.Load(Dir(name));
            bound[name] = HeldOutLikelihood.Score(model, held, tok.BosId!.Value, seqLen, chunks, samples, new Random(o.Seed)).NatsPerToken;
            if (name == "ar") continue;
            var options = new DecodingOptions { GenLength = 32, Steps = 32, BlockLength = model.DiffusionBlockSize > 0 ? model.DiffusionBlockSize : 8 };
            GenerationResult r = new DiffusionSampler(model, tok.MaskId).Generate(prompt, options);
            sample[name] = GeneratedText.Answer(tok, r.Answer.ToArray(), tok.EosId).Text;
        }
        long parameters = new TrainableModel(shape).Parameters.Count;
        string Row(string name) => Markdown.Num(bound[name], "F3");
        var md = new StringBuilder()
            .Append($"# AR-to-diffusion adaptation vs diffusion from scratch\n\nCommand: `{o.Command}`\n\n")
            .Append($"Data: `{Path.GetFileName(path)}`: the first 90 % (to a line break) trains, the last 10 % is held out. Backbone for every model: ")
            .Append($"{twin.Describe(shape, parameters)}; windows of {seqLen} bytes; block diffusion blocks of {block}.\n\n")
            .Append($"Adapted: AR pre-training {pretrain} steps, then {adapt} steps of adaptation (logits kept shifted; masked diffusion with the attention ")
            .Append($"widened from causal to bidirectional over {adapt / 2} steps; both with complementary masks on half the sequences, so tokens per step are equal). ")
            .Append($"From scratch: {twin.Steps} steps. Scored: {chunks} held-out chunks of {seqLen} bytes after a BOS, {samples} Monte Carlo samples each ")
            .Append("(masked diffusion: LLaDA's ELBO; block diffusion: the sum of its blocks' bounds; AR: exact NLL). Nats per byte, lower is better.\n\n")
            .Append(Markdown.Table(["model", "from scratch", "adapted from AR", "training minutes (scratch / adapted, excl. AR)"],
            [
                ["masked diffusion (bound)", Row("mdm-scratch"), Row("mdm-adapted"), $"{minutes["mdm-scratch"]:F1} / {minutes["mdm-adapted"]:F1}"],
                ["block diffusion (bound)", Row("bd3-scratch"), Row("bd3-adapted"), $"{minutes["bd3-scratch"]:F1} / {minutes["bd3-adapted"]:F1}"],
                [$"the AR source after {pretrain} steps (exact NLL)", "—", Row("ar"), $"{minutes["ar"]:F1}"],
            ]))
            .Append("\nGreedy samples after \"And God said\" (32 bytes):\n\n")
            .Append(Markdown.Table(["model", "sample"], [.. sample.Select(kv => new[] { kv.Key, "`" + kv.Value.Replace("\n", " ").Replace("`", "'") + "`" })]));
        var plot = new PlotSpec("Held-out bound at equal compute (nats/byte, lower is better)", "", "nats per byte",
            ["masked diffusion", "block diffusion"],
            [("from scratch", [bound["mdm-scratch"], bound["bd3-scratch"]]), ("adapted from AR", [bound["mdm-adapted"], bound["bd3-adapted"]]), ("AR source (NLL)", [bound["ar"], bound["ar"]])]);
        return new ExperimentOutcome(md.ToString(), plot);
    }
}
