using System.Text;
using Dllm.Model;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Experiments;

/// <summary>
/// Held-out likelihood of an MDM (the Monte Carlo ELBO bound, LLaDA Eq. 6 —
/// an upper bound on its NLL) vs the exact NLL of its AR twin, both pre-trained on the bundled King
/// James excerpt at equal compute (same backbone, steps, batches, seed). The last 10 % of the text
/// (cut at a line break) is held out. Expected: the AR model lower (better) at equal compute — MDMs
/// are reported to need more compute for the same likelihood (Nie et al. 2024, scaling laws).
/// </summary>
public sealed class LikelihoodExperiment : IExperiment
{
    public string Name => "likelihood";
    public string Description => "Held-out ELBO bound (MDM) vs NLL (AR) on the bundled KJV text at equal compute";

    public ExperimentOutcome Run(ExperimentRunOptions o, Action<string> log, CancellationToken ct = default)
    {
        var (path, trainText, heldText) = HeldOutText.Read(o.Data);
        var tok = new ByteTokenizer();
        string dataDir = Path.Combine(o.OutDir, "data");
        Directory.CreateDirectory(dataDir);
        File.WriteAllText(Path.Combine(dataDir, "train.txt"), trainText);
        File.WriteAllText(Path.Combine(dataDir, "heldout.txt"), heldText);
        int seqLen = o.Quick ? 16 : 64, chunks = o.Quick ? 2 : 32, samples = o.Quick ? 8 : 64;
        var trainCorpus = new TextCorpus([.. tok.Encode(trainText)]);
        var heldCorpus = new TextCorpus([.. tok.Encode(heldText)]);
        if (heldCorpus.Tokens.Length < seqLen || trainCorpus.Tokens.Length < seqLen)
            throw new InvalidDataException($"'{path}' is too short: need at least {seqLen} tokens in each of the training and held-out parts");
        var twin = o.Quick
            ? new TwinConfig { DModel = 32, Layers = 1, Heads = 2, Steps = 3, BatchSize = 4, Warmup = 1, Seed = o.Seed }
            : new TwinConfig { DModel = 128, Layers = 4, Heads = 4, Steps = 800, BatchSize = 16, LearningRate = 2e-3, Warmup = 50, Seed = o.Seed };
        if (o.Steps is int s) twin = twin with { Steps = s, Warmup = Math.Min(twin.Warmup, s / 10) };
        ModelConfig shape = twin.Backbone(seqLen + 1);
        var options = new TrainerOptions
        {
            Config = shape, Steps = twin.Steps, BatchSize = twin.BatchSize, SeqLen = seqLen, LearningRate = twin.LearningRate,
            WarmupSteps = twin.Warmup, Seed = twin.Seed, SaveEvery = twin.Steps,
        };
        string models = Path.Combine(o.OutDir, "models");
        log($"pre-training MDM and AR twins on {trainCorpus.Tokens.Length:N0} bytes, {twin.Steps} steps × {twin.BatchSize} × {seqLen} tokens each, side by side");
        var (tm, ta) = TwinTraining.PretrainBoth(options, trainCorpus, models, (kind, p) =>
        {
            if (p.Step % 100 == 0 || p.Step == p.TotalSteps) log($"{kind} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4} ({p.TokensPerSecond:F0} tok/s)");
        }, ct);

        double Score(string kind, TextCorpus c)
        {
            using Transformer model = Transformer.Load(Path.Combine(models, kind));
            return HeldOutLikelihood.Score(model, c, tok.BosId!.Value, seqLen, chunks, samples, new Random(o.Seed)).NatsPerToken;
        }
        double Mdm(TextCorpus c) => Score("mdm", c);
        double Ar(TextCorpus c) => Score("ar", c);
        double mdmHeld = Mdm(heldCorpus), arHeld = Ar(heldCorpus), mdmTrain = Mdm(trainCorpus), arTrain = Ar(trainCorpus);
        log($"held-out: MDM ELBO bound {mdmHeld:F3}, AR NLL {arHeld:F3} nats/byte");
        long parameters = new TrainableModel(shape).Parameters.Count;
        string Ppl(double nats) => Markdown.Num(Math.Exp(nats), "F2");
        var md = new StringBuilder()
            .Append($"# Likelihood: MDM ELBO bound vs AR NLL at equal compute\n\nCommand: `{o.Command}`\n\n")
            .Append($"Data: `{Path.GetFileName(path)}` ({trainText.Length + heldText.Length:N0} characters): the first 90 % (to a line break) trains both models, the last 10 % is held out (`data/`).\n\n")
            .Append($"Both models: {twin.Describe(shape, parameters)}; windows of {seqLen} bytes. Pre-trained side by side, one kernel thread each: MDM {tm / 60:F1} min, AR {ta / 60:F1} min.\n\n")
            .Append($"Scored: {chunks} evenly spaced chunks of {seqLen} bytes after a BOS, per part. MDM: Monte Carlo ELBO bound (LLaDA Eq. 6, {samples} samples per chunk, stratified mask counts), ")
            .Append("an upper bound on its NLL in expectation; AR: exact NLL. Nats per byte (lower is better), and the matching perplexity per byte.\n\n")
            .Append(Markdown.Table(["text", "MDM ELBO bound (nats/byte)", "AR NLL (nats/byte)", "MDM perplexity ≤", "AR perplexity"],
            [
                ["held-out", Markdown.Num(mdmHeld, "F3"), Markdown.Num(arHeld, "F3"), Ppl(mdmHeld), Ppl(arHeld)],
                ["training text", Markdown.Num(mdmTrain, "F3"), Markdown.Num(arTrain, "F3"), Ppl(mdmTrain), Ppl(arTrain)],
            ]));
        var plot = new PlotSpec("Likelihood at equal compute (nats/byte, lower is better)", "", "nats per byte",
            ["held-out", "training text"], [("MDM ELBO bound", [mdmHeld, mdmTrain]), ("AR NLL", [arHeld, arTrain])]);
        return new ExperimentOutcome(md.ToString(), plot);
    }
}
