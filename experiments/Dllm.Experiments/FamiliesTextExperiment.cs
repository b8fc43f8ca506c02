using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tensors;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Experiments;

/// <summary>
/// Every family on held-out text (issue #17, item 3, the half <see cref="FamiliesExperiment"/> does not do): AR, MDM,
/// BD3, Diffusion-LM and SSD-LM pre-trained on random byte windows of the training part of a text file (the bundled
/// KJV excerpt by default, <see cref="HeldOutText"/>), DiffuSeq on the same windows split into a prefix (anchored) and
/// a continuation; one backbone, one seed, the same steps and windows per step. Scored on windows of the held-out part:
/// <list type="bullet">
/// <item>continuation: given the first half of a held-out window, each family writes the second half (deterministic
/// decoding); the fraction of bytes equal to the text's, at checkpoints (quality against steps), and the judged NLL of
/// the continuation under the final AR model (generative NLL, as MDLM/SSD-LM judge samples with an AR model; the AR
/// family is judged by itself, which favours it);</item>
/// <item>likelihood: AR exact NLL, MDM and BD3 bounds per byte (<see cref="HeldOutLikelihood"/>); the continuous
/// families their own objective (<see cref="ContinuousEvaluation"/>), which is not a bound.</item>
/// </list>
/// Families train two at a time (one kernel thread each) when the run has two threads.
/// </summary>
public sealed class FamiliesTextExperiment : IExperiment
{
    public string Name => "families-text";
    public string Description => "Every family (AR, MDM, BD3, DiffuSeq, Diffusion-LM, SSD-LM) on held-out text at equal compute";

    // BD3's two-halves forward is the slowest: first, so the pairs finish together.
    private static readonly string[] TrainingOrder = ["bd3", "ar", "mdm", "diffuseq", "diffusion-lm", "ssd-lm"];

    public ExperimentOutcome Run(ExperimentRunOptions o, Action<string> log, CancellationToken ct = default)
    {
        bool quick = o.Quick;
        var (path, trainText, heldText) = HeldOutText.Read(o.Data);
        var tok = new ByteTokenizer();
        int seqLen = quick ? 16 : 64, half = seqLen / 2, windows = quick ? 4 : 48, samples = quick ? 2 : 16;
        int T = quick ? 20 : 200, block = quick ? 4 : 8, continuousSteps = quick ? 5 : 50;
        var train = new TextCorpus([.. tok.Encode(trainText)]);
        var held = new TextCorpus([.. tok.Encode(heldText)]);
        if (held.Tokens.Length < seqLen + 1 || train.Tokens.Length < seqLen)
            throw new InvalidDataException($"'{path}' is too short: need at least {seqLen + 1} tokens in each of the training and held-out parts");
        var config = quick
            ? new TwinConfig { DModel = 32, Layers = 1, Heads = 2, Steps = 4, BatchSize = 4, Warmup = 1, Seed = o.Seed, Checkpoints = 2 }
            : new TwinConfig { DModel = 128, Layers = 4, Heads = 4, Steps = 3000, BatchSize = 16, LearningRate = 2e-3, Warmup = 50, Seed = o.Seed, Checkpoints = 6 };
        config = TwinRun.Effective(o, config);
        if (o.LearningRate is double lr) config = config with { LearningRate = lr };
        ModelConfig shape = config.Backbone(seqLen + 1);
        var options = new TrainerOptions
        {
            Config = shape, Steps = config.Steps, BatchSize = config.BatchSize, SeqLen = seqLen, LearningRate = config.LearningRate,
            WarmupSteps = config.Warmup, Seed = config.Seed, SaveEvery = config.SaveEvery,
        };
        // DiffuSeq is seq2seq: the training text cut into windows, each a prefix → continuation pair.
        var pairs = Enumerable.Range(0, train.Tokens.Length / seqLen)
            .Select(i => (train.Tokens.AsSpan(i * seqLen, half).ToArray(), train.Tokens.AsSpan(i * seqLen + half, seqLen - half).ToArray())).ToList();
        // Held-out continuation windows: evenly spaced, prefix and the text's own continuation.
        var heldWindows = Enumerable.Range(0, windows).Select(i => held.EvenChunk(i, windows, seqLen).ToArray()).ToList();
        string models = Path.Combine(o.OutDir, "models");
        string Dir(string f) => Path.Combine(models, f);
        foreach (string f in TrainingOrder)
            if (Directory.Exists(Dir(f))) Directory.Delete(Dir(f), recursive: true);
        Directory.CreateDirectory(Path.Combine(o.OutDir, "data"));
        File.WriteAllText(Path.Combine(o.OutDir, "data", "train.txt"), trainText);
        File.WriteAllText(Path.Combine(o.OutDir, "data", "heldout.txt"), heldText);

        TrainerOptions For(string f) => f switch
        {
            "ar" or "mdm" => options with { Objective = f },
            "bd3" => options with { Objective = f, BlockSize = block },
            _ => options with
            {
                Objective = f, Config = Trainer.ModelConfigFor(shape with { DiffusionSteps = T, SsdBlockSize = f == "ssd-lm" ? block : 0 }, f, tok),
            },
        };
        void TrainFamily(string f, Action<TrainProgress> onStep)
        {
            if (f == "diffuseq") Trainer.RunContinuous(For(f), pairs, tok, Dir(f), resume: false, onStep, ct);
            else Trainer.Run(For(f), train, tok, Dir(f), resume: false, onStep, ct);
        }

        var curve = new ConcurrentDictionary<(string, long), double>();
        var minutes = new ConcurrentDictionary<string, double>();
        var finalLoss = new ConcurrentDictionary<string, double>();
        int saved = Parallelism.Threads, workers = Math.Clamp(saved, 1, 2);
        log($"{TrainingOrder.Length} families × {config.Steps} steps × {config.BatchSize} windows of {seqLen} bytes, {workers} at a time, one kernel thread each");
        Parallelism.Threads = 1;
        try
        {
            Parallel.ForEach(TrainingOrder, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = ct }, f =>
                (minutes[f], finalLoss[f]) = FamiliesExperiment.TrainTimed(f, onStep => TrainFamily(f, onStep), step => step > 0 && step % config.SaveEvery == 0, step =>
                {
                    curve[(f, step)] = ByteAccuracy(Continue(f, Dir(f), heldWindows, half, continuousSteps, o.Seed, ct), heldWindows, half);
                    log($"{f} step {step}: {Markdown.Percent(curve[(f, step)])} of held-out continuation bytes");
                }, log));

            var outputs = FamiliesExperiment.Families.ToDictionary(f => f, f => Continue(f, Dir(f), heldWindows, half, continuousSteps, o.Seed, ct));
            foreach (string f in FamiliesExperiment.Families) curve[(f, config.Steps)] = ByteAccuracy(outputs[f], heldWindows, half);
            using var judge = Transformer.Load(Dir("ar"));
            double Judged(IReadOnlyList<int[]> cont) => heldWindows.Select((w, i) =>
                AutoregressiveObjective.NegativeLogLikelihood(judge, w.AsSpan(0, half), cont[i]) / cont[i].Length).Average();
            var judged = FamiliesExperiment.Families.ToDictionary(f => f, f => Judged(outputs[f]));
            double reference = Judged([.. heldWindows.Select(w => w[half..])]);
            var likelihood = FamiliesExperiment.Families.ToDictionary(f => f, f => Likelihood(f, Dir(f), held, tok, seqLen, half, windows, samples, o.Seed));
            foreach (string f in FamiliesExperiment.Families)
                log(string.Create(CultureInfo.InvariantCulture, $"{f}: continuation {Markdown.Percent(curve[(f, config.Steps)])} bytes right, judged {judged[f]:F3} nats/byte; held-out {likelihood[f]:F3}"));
            return Report(o, path, config, shape, T, block, seqLen, windows, continuousSteps, curve, judged, reference, likelihood, minutes, finalLoss,
                tok, heldWindows[0], outputs.ToDictionary(kv => kv.Key, kv => kv.Value[0]), half);
        }
        finally { Parallelism.Threads = saved; }
    }

    /// <summary>Each window's continuation (<c>window.Length − half</c> tokens) after its first <paramref name="half"/> tokens.
    /// AR greedy; MDM one block, one token per step; BD3 its own blocks, one token per step; the continuous families
    /// <paramref name="continuousSteps"/> reverse steps with a fixed seed.</summary>
    private static List<int[]> Continue(string f, string dir, IReadOnlyList<int[]> heldWindows, int half, int continuousSteps, int seed, CancellationToken ct)
    {
        using Transformer model = Transformer.Load(dir);
        int n = heldWindows[0].Length - half, eos = model.Config.EosTokenId;
        IReadOnlyList<int>[] prompts = [.. heldWindows.Select(w => (IReadOnlyList<int>)w[..half])];
        switch (f)
        {
            case "ar":
                return [.. new AutoregressiveDecoder(model).GreedyBatch(prompts, n, eos, eos).Select(r => Padded(r.Answer, n, eos))];
            case "mdm" or "bd3":
                var d = new DecodingOptions { GenLength = n, Steps = n, BlockLength = f == "bd3" ? model.Config.BlockSize : n };
                return [.. new DiffusionSampler(model, model.Config.MaskTokenId).GenerateBatch(prompts, d, eos, cancellationToken: ct).Select(r => r.Answer.ToArray())];
            default:
                Func<IReadOnlyList<int>, ContinuousDecodingOptions, ContinuousResult> generate = f == "ssd-lm"
                    ? new SimplexDiffusionSampler(model).Generate : new EmbeddingDiffusionSampler(model).Generate;
                return [.. prompts.Select(p => generate(p, new ContinuousDecodingOptions { AnswerLength = n, Steps = continuousSteps, Seed = seed }).Answer)];
        }
    }

    // An AR answer stops at EOS: pad it back to the window so every family is scored on the same positions.
    private static int[] Padded(IReadOnlyList<int> answer, int n, int eos) => [.. answer.Take(n), .. Enumerable.Repeat(eos, Math.Max(0, n - answer.Count))];

    private static double ByteAccuracy(IReadOnlyList<int[]> outputs, IReadOnlyList<int[]> heldWindows, int half)
    {
        long right = 0, total = 0;
        for (int i = 0; i < outputs.Count; i++)
            for (int j = half; j < heldWindows[i].Length; j++, total++)
                if (j - half < outputs[i].Length && outputs[i][j - half] == heldWindows[i][j]) right++;
        return (double)right / total;
    }

    /// <summary>Nats per byte of held-out windows: AR exact, MDM/BD3 bounds (after a BOS); the continuous families' own objective.</summary>
    private static double Likelihood(string f, string dir, TextCorpus held, ITokenizer tok, int seqLen, int half, int windows, int samples, int seed)
    {
        var rng = new Random(seed);
        if (f is "ar" or "mdm" or "bd3")
        {
            using Transformer model = Transformer.Load(dir);
            return HeldOutLikelihood.Score(model, held, tok.BosId!.Value, seqLen, windows, samples, rng).NatsPerToken;
        }
        var net = new TrainableModel(ModelConfig.Load(Path.Combine(dir, "config.json")));
        TrainingCheckpoint.LoadWeights(dir, net);
        int[][] chunks = [.. Enumerable.Range(0, windows).Select(i => held.EvenChunk(i, windows, seqLen).ToArray())];
        return ContinuousEvaluation.Score(net, chunks, f == "diffuseq" ? [.. chunks.Select(_ => half)] : null, Math.Max(1, samples / 4), rng).Loss;
    }

    private static ExperimentOutcome Report(ExperimentRunOptions o, string path, TwinConfig config, ModelConfig shape, int T, int block, int seqLen,
        int windows, int continuousSteps, IDictionary<(string, long), double> curve, Dictionary<string, double> judged, double reference,
        Dictionary<string, double> likelihood, IDictionary<string, double> minutes, IDictionary<string, double> finalLoss, ITokenizer tok,
        int[] firstWindow, Dictionary<string, int[]> firstOutputs, int half)
    {
        long[] steps = [.. curve.Keys.Select(k => k.Item2).Distinct().Order()];
        string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        string Shown1(int[] ids) => "`" + tok.Decode(ids).Replace("\n", "⏎").Replace("`", "'") + "`";
        string HeldCell(string f) => f switch
        {
            "ar" => Inv($"{likelihood[f]:F3} (exact NLL)"),
            "mdm" => Inv($"≤ {likelihood[f]:F3} (ELBO bound)"),
            "bd3" => Inv($"≤ {likelihood[f]:F3} (BD3 bound, blocks of {block})"),
            "ssd-lm" => Inv($"{likelihood[f]:F3} (own objective: block denoising CE, not a bound)"),
            "diffuseq" => Inv($"{likelihood[f]:F3} (own objective: L_e2e-simple over the continuation, not a bound)"),
            _ => Inv($"{likelihood[f]:F3} (own objective: L_e2e-simple, not a bound)"),
        };
        string Trained(string f) => f switch
        {
            "ar" => "next-token CE", "mdm" => "masked diffusion (LLaDA Eq. 3)",
            "bd3" => Inv($"block diffusion, blocks of {block} ([x_t ; x_0], ~2× the forward)"),
            "diffuseq" => Inv($"windows as {half}-byte prefix (anchored) → continuation, T = {T}"),
            "diffusion-lm" => Inv($"L_e2e-simple, sqrt schedule, T = {T}"),
            _ => Inv($"simplex block CE, blocks of {block}, T = {T}"),
        };
        long parameters = new TrainableModel(shape).Parameters.Count;
        var md = new StringBuilder()
            .Append("# Every family on held-out text at equal compute\n\n")
            .Append($"Command: `{o.Command}`\n\n")
            .Append(Inv($"Data: `{Path.GetFileName(path)}`, bytes; the first 90 % (to a line break) trains, the rest is held out (`data/`). "))
            .Append(Inv($"Every model: {config.Describe(shape, parameters)}; random windows of {seqLen} bytes (DiffuSeq: the training text cut into "))
            .Append(Inv($"{seqLen}-byte windows, each a {half}-byte prefix → continuation pair). Trained two at a time, one kernel thread each; minutes exclude the checkpoint evaluations.\n\n"))
            .Append(Markdown.Table(["family", "trained on", "training min", "final loss (last 10 %)"],
                FamiliesExperiment.Families.Select(f => (IReadOnlyList<string>)[FamiliesExperiment.Label(f), Trained(f), Markdown.Num(minutes[f]), Markdown.Num(finalLoss[f], "F3")])))
            .Append("\n## Held-out continuation against training steps\n\n")
            .Append(Inv($"{windows} evenly spaced held-out windows: the first {half} bytes given, the family writes the next {seqLen - half}; the cell is the fraction of "))
            .Append(Inv($"bytes equal to the text's. AR greedy; MDM one block, one byte per step; BD3 its blocks of {block}, one byte per step; DiffuSeq, "))
            .Append(Inv($"Diffusion-LM (prefix anchored, approximate for a model trained unconditionally) and SSD-LM (prefix as clean context) {continuousSteps} reverse steps, seed {o.Seed}.\n\n"))
            .Append(Markdown.Table(["family", .. steps.Select(s => Inv($"step {s}"))],
                FamiliesExperiment.Families.Select(f => (IReadOnlyList<string>)[FamiliesExperiment.Label(f), .. steps.Select(s => curve.TryGetValue((f, s), out double a) ? Markdown.Percent(a) : "—")])))
            .Append("\n## Held-out text, final checkpoint\n\n")
            .Append(Inv($"Judged: nats per byte of the family's continuations under the final AR model given the prefix (generative NLL; lower = more plausible to the judge; "))
            .Append(Inv($"the AR family is judged by itself, which favours it; the text's own continuations score {reference:F3}). Likelihood: nats per byte of "))
            .Append(Inv($"{windows} held-out windows of {seqLen} bytes; only AR, MDM and BD3 are likelihoods (bounds) and compare with each other.\n\n"))
            .Append(Markdown.Table(["family", "continuation bytes right", "judged (nats/byte)", "held-out nats/byte"],
                FamiliesExperiment.Families.Select(f => (IReadOnlyList<string>)[FamiliesExperiment.Label(f), Markdown.Percent(curve[(f, config.Steps)]), Markdown.Num(judged[f], "F3"), HeldCell(f)])))
            .Append("\n## One continuation each (first held-out window)\n\n")
            .Append($"Prefix {Shown1(firstWindow[..half])}, the text goes on {Shown1(firstWindow[half..])}.\n\n")
            .Append(Markdown.Table(["family", "continuation"], FamiliesExperiment.Families.Select(f => (IReadOnlyList<string>)[FamiliesExperiment.Label(f), Shown1(firstOutputs[f])])));
        var plot = new PlotSpec("Held-out continuation bytes right vs training steps", "optimizer steps", "bytes right (%)", [],
            [.. FamiliesExperiment.Families.Select(f => (FamiliesExperiment.Label(f), steps.Select(s => 100 * (curve.TryGetValue((f, s), out double a) ? a : double.NaN)).ToArray()))],
            [.. steps.Select(s => (double)s)]);
        return new ExperimentOutcome(md.ToString(), plot);
    }
}
