using System.Diagnostics;
using System.Globalization;
using System.Text;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tensors;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Experiments;

/// <summary>
/// Every family side by side (issue #17, item 3): AR, MDM and BD3 with their SFT objectives on the prompt/response
/// pairs of <see cref="WordReversalTask"/>, DiffuSeq on the same pairs (prompt anchored), Diffusion-LM and SSD-LM on
/// the same examples as text ("BOS reverse A B C C B A EOS" concatenated, random windows of one example's length;
/// both are text-only families) and decoded conditionally from the prompt (Diffusion-LM: the prompt rows anchored,
/// an approximation for a model trained with every row noised; SSD-LM: the prompt as the clean context of its first
/// block). One backbone shape, one seed, the same optimizer steps and examples (or windows of the same length) per
/// step; trained one after another with one kernel thread. Quality against training steps (checkpoints at 1/32, 1/16,
/// 1/8, 1/4, 1/2 of the steps and the end) and against decoding steps (at the end); held-out likelihood where a family has one, its own objective
/// where it has not.
/// </summary>
public sealed class FamiliesExperiment : IExperiment
{
    public string Name => "families";
    public string Description => "Every family (AR, MDM, BD3, DiffuSeq, Diffusion-LM, SSD-LM) on one seq2seq task and its held-out examples at equal compute";

    /// <summary>Every family, in the order tables list them.</summary>
    internal static readonly string[] Families = ["ar", "mdm", "bd3", "diffuseq", "diffusion-lm", "ssd-lm"];

    /// <summary>A family's name in tables and plots ("ar" → "AR", "diffusion-lm" → "Diffusion-LM", ...).</summary>
    internal static string Label(string f) => f switch
    {
        "ar" => "AR", "mdm" => "MDM", "bd3" => "BD3", "diffuseq" => "DiffuSeq", "diffusion-lm" => "Diffusion-LM", _ => "SSD-LM",
    };

    private const int AnswerTokens = 4; // three names + EOS

    public ExperimentOutcome Run(ExperimentRunOptions o, Action<string> log, CancellationToken ct = default)
    {
        bool quick = o.Quick;
        int names = quick ? 6 : 24, trainCount = quick ? 40 : o.Size ?? 1200, testCount = quick ? 6 : 100;
        var (train, test) = WordReversalTask.Generate(names, trainCount, testCount, o.Seed);
        WordLevelTokenizer tok = WordReversalTask.Tokenizer(train);
        string models = Path.Combine(o.OutDir, "models");
        TaskExample.WriteJsonl(Path.Combine(o.OutDir, "data", "train.jsonl"), train);
        TaskExample.WriteJsonl(Path.Combine(o.OutDir, "data", "test.jsonl"), test);
        var config = quick
            ? new TwinConfig { DModel = 32, Layers = 1, Heads = 2, Steps = 4, BatchSize = 4, Warmup = 1, Seed = o.Seed, Checkpoints = 2 }
            : new TwinConfig { DModel = 128, Layers = 4, Heads = 4, Steps = 8000, BatchSize = 32, LearningRate = 2e-3, Warmup = 50, Seed = o.Seed, Checkpoints = 4 };
        config = TwinRun.Effective(o, config);
        if (o.LearningRate is double lr) config = config with { LearningRate = lr };
        int T = quick ? 20 : 200, block = 4, samples = quick ? 2 : 8;
        int[] discreteSteps = [4, 2, 1], continuousSteps = quick ? [2, 5] : [10, 50, 200];
        int defaultContinuous = continuousSteps[^2];
        var encoded = train.Select(e => e.Encode(tok)).ToList();
        // Checkpoints at 1/32, 1/16, 1/8, 1/4, 1/2 of the steps and the end: the fast learners saturate early.
        int unit = Math.Max(1, config.Steps / 32);
        var evalAt = new HashSet<long>(new[] { 1, 2, 4, 8, 16 }.Select(k => (long)k * unit).Where(s => s < config.Steps));
        TrainerOptions sft = config.SftOptions(encoded, tok) with { SaveEvery = unit };
        ModelConfig shape = sft.Config;
        var text = new TextCorpus([.. encoded.SelectMany(e => e.Prompt.Concat(e.Answer))]);
        string Dir(string f) => Path.Combine(models, f);
        TrainerOptions Continuous(string f) => sft with
        {
            Objective = f, Config = Trainer.ModelConfigFor(shape with { DiffusionSteps = T, SsdBlockSize = f == "ssd-lm" ? block : 0 }, f, tok),
        };
        TrainableModel TrainFamily(string f, Action<TrainProgress> onStep) => f switch
        {
            "ar" => Trainer.RunSft(sft, encoded, tok, Dir(f), resume: false, initFrom: null, onStep, ct, autoregressive: true),
            "mdm" => Trainer.RunSft(sft, encoded, tok, Dir(f), resume: false, initFrom: null, onStep, ct),
            "bd3" => Trainer.RunSft(sft, encoded, tok, Dir(f), resume: false, initFrom: null, onStep, ct, blockSize: block),
            "diffuseq" => Trainer.RunContinuous(Continuous(f), encoded, tok, Dir(f), resume: false, onStep, ct),
            _ => Trainer.Run(Continuous(f) with { SeqLen = WordReversalTask.ExampleTokens }, text, tok, Dir(f), resume: false, onStep, ct),
        };

        // Exact-match accuracy on the held-out triples and forwards per answer token, decoding with `steps`.
        (double Accuracy, double Forwards) Score(string f, int steps)
        {
            using Transformer model = Transformer.Load(Dir(f));
            if (f is "ar" or "mdm" or "bd3")
            {
                EvalReport r = TaskEvaluator.Evaluate(model, f == "ar", tok, test, new EvalOptions { StepsPerToken = steps / (double)AnswerTokens }, ct);
                return (r.Accuracy, r.ForwardsPerToken);
            }
            Func<IReadOnlyList<int>, ContinuousDecodingOptions, ContinuousResult> generate = f == "ssd-lm"
                ? new SimplexDiffusionSampler(model).Generate : new EmbeddingDiffusionSampler(model).Generate;
            int right = 0;
            long forwards = 0;
            foreach (TaskExample e in test)
            {
                ct.ThrowIfCancellationRequested();
                var (prompt, answer) = e.Encode(tok);
                ContinuousResult r = generate(prompt, new ContinuousDecodingOptions { AnswerLength = answer.Length, Steps = steps, Seed = o.Seed });
                if (tok.Decode(GeneratedText.TrimAtEos(r.Answer, tok.EosId, null)) == e.Response) right++;
                forwards += r.ForwardPasses;
            }
            return ((double)right / test.Count, (double)forwards / (test.Count * AnswerTokens));
        }
        int DefaultSteps(string f) => f is "ar" or "mdm" or "bd3" ? AnswerTokens : defaultContinuous;

        // Held-out: nats per answer token given the prompt (AR exact, MDM/BD3 bounds), or the family's own objective.
        (double Value, double? Rounding) HeldOut(string f)
        {
            var rng = new Random(o.Seed);
            var pairs = test.Select(e => e.Encode(tok)).ToList();
            if (f is "diffuseq" or "diffusion-lm" or "ssd-lm")
            {
                var net = new TrainableModel(ModelConfig.Load(Path.Combine(Dir(f), "config.json")));
                TrainingCheckpoint.LoadWeights(Dir(f), net);
                ContinuousScore s = ContinuousEvaluation.Score(net, [.. pairs.Select(p => p.Prompt.Concat(p.Answer).ToArray())],
                    f == "diffuseq" ? [.. pairs.Select(p => p.Prompt.Length)] : null, samples, rng);
                return (s.Loss, s.Rounding);
            }
            using Transformer model = Transformer.Load(Dir(f));
            var elbo = new ElboEstimator(model.Config.MaskTokenId, 4 * samples, Math.Min(8, 4 * samples));
            double total = 0;
            long tokens = 0;
            foreach (var (p, a) in pairs)
            {
                tokens += a.Length;
                if (f == "ar") { total += AutoregressiveObjective.NegativeLogLikelihood(model, p, a); continue; }
                if (f == "mdm") { total += elbo.NegativeElbo(model, p, a, rng); continue; }
                // BD3-LM: the sum over grid blocks of each block's bound given the clean blocks before it, on the canvas
                // it trained and decodes on (EOS-padded to the grid, as BD3 SFT pads; the pads' terms count too).
                int grid = model.Config.BlockSize;
                int[] seq = [.. p, .. a, .. Enumerable.Repeat(tok.EosId, (grid - (p.Length + a.Length) % grid) % grid)];
                for (int start = p.Length; start < seq.Length; start = (start / grid + 1) * grid)
                {
                    int end = Math.Min(seq.Length, (start / grid + 1) * grid);
                    total += elbo.NegativeElbo(model, seq.AsSpan(0, start), seq.AsSpan(start, end - start), rng);
                }
            }
            return (total / tokens, null);
        }

        foreach (string f in Families)
            if (Directory.Exists(Dir(f))) Directory.Delete(Dir(f), recursive: true);
        var curve = new Dictionary<(string, long), double>();
        var minutes = new Dictionary<string, double>();
        var finalLoss = new Dictionary<string, double>();
        log($"{train.Count} training pairs, {test.Count} held-out; {Families.Length} families × {config.Steps} steps × {config.BatchSize} examples, one kernel thread, one after another");
        int saved = Parallelism.Threads;
        Parallelism.Threads = 1;
        try
        {
            foreach (string f in Families)
                (minutes[f], finalLoss[f]) = TrainTimed(f, onStep => TrainFamily(f, onStep), evalAt.Contains, step =>
                {
                    curve[(f, step)] = Score(f, DefaultSteps(f)).Accuracy;
                    log($"{f} step {step}: {Markdown.Percent(curve[(f, step)])} held-out exact match");
                }, log);
            var final = new Dictionary<(string, int), (double Accuracy, double Forwards)>();
            var held = new Dictionary<string, (double Value, double? Rounding)>();
            foreach (string f in Families)
            {
                foreach (int s in f == "ar" ? [AnswerTokens] : f is "mdm" or "bd3" ? discreteSteps : continuousSteps) final[(f, s)] = Score(f, s);
                curve[(f, config.Steps)] = final[(f, DefaultSteps(f))].Accuracy;
                held[f] = HeldOut(f);
                log($"{f}: " + string.Join(", ", final.Where(kv => kv.Key.Item1 == f).Select(kv => $"{kv.Key.Item2} steps {Markdown.Percent(kv.Value.Accuracy)}"))
                    + string.Create(CultureInfo.InvariantCulture, $"; held-out {held[f].Value:F3}"));
            }
            return Report(o, config, shape, tok, train.Count, test.Count, names, T, block, discreteSteps, continuousSteps, curve, final, held, minutes, finalLoss);
        }
        finally { Parallelism.Threads = saved; }
    }

    /// <summary>Trains family <paramref name="f"/> through <paramref name="train"/> (which passes each step's progress on),
    /// evaluating the checkpoint of every step s with <paramref name="evalAt"/>(s) as soon as it is written, and logging
    /// the loss every 500 steps. Returns the minutes of training, the evaluations' time left out, and the mean loss of the
    /// last tenth of the steps.</summary>
    internal static (double Minutes, double FinalLoss) TrainTimed(string f, Action<Action<TrainProgress>> train, Func<long, bool> evalAt,
        Action<long> evaluate, Action<string> log)
    {
        double evalSeconds = 0;
        var losses = new List<double>();
        var sw = Stopwatch.StartNew();
        train(p =>
        {
            losses.Add(p.Loss);
            // The checkpoint of step p.Step − 1 was written after the previous callback.
            if (evalAt(p.Step - 1))
            {
                var e = Stopwatch.StartNew();
                evaluate(p.Step - 1);
                evalSeconds += e.Elapsed.TotalSeconds;
            }
            if (p.Step % 500 == 0 || p.Step == p.TotalSteps)
                log(string.Create(CultureInfo.InvariantCulture, $"{f} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4} ({p.TokensPerSecond:F0} tok/s)"));
        });
        double minutes = (sw.Elapsed.TotalSeconds - evalSeconds) / 60;
        log($"{f}: {minutes:F2} min of training");
        return (minutes, losses.Skip(losses.Count - Math.Max(1, losses.Count / 10)).Average());
    }

    private static ExperimentOutcome Report(ExperimentRunOptions o, TwinConfig config, ModelConfig shape, ITokenizer tok, int trainCount, int testCount,
        int names, int T, int block, int[] discreteSteps, int[] continuousSteps, Dictionary<(string, long), double> curve,
        Dictionary<(string, int), (double Accuracy, double Forwards)> final, Dictionary<string, (double Value, double? Rounding)> held,
        Dictionary<string, double> minutes, Dictionary<string, double> finalLoss)
    {
        long[] steps = [.. curve.Keys.Select(k => k.Item2).Distinct().Order()];
        string Cell(string f, long s) => curve.TryGetValue((f, s), out double a) ? Markdown.Percent(a) : "—";
        long parameters = new TrainableModel(shape).Parameters.Count;
        string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        string Training(string f) => f switch
        {
            "ar" => "next-token CE on the answer (ar-sft)",
            "mdm" => "LLaDA SFT: answer masked, prompt clean",
            "bd3" => Inv($"BD3 SFT, blocks of {block} on the canvas grid ([x_t ; x_0], ~2× the forward)"),
            "diffuseq" => Inv($"partial noising of the answer embeddings, prompt anchored, T = {T}"),
            "diffusion-lm" => Inv($"L_e2e-simple on text windows of {WordReversalTask.ExampleTokens} tokens, T = {T}"),
            _ => Inv($"simplex block CE on text windows of {WordReversalTask.ExampleTokens} tokens, blocks of {block}, T = {T}"),
        };
        string Decoding(string f) => f switch
        {
            "ar" => "greedy, one forward per token",
            "mdm" => "one block, lowest-confidence remasking, steps below",
            "bd3" => Inv($"its grid of {block}, steps below per block"),
            "diffuseq" => "DDPM posterior + clamping, prompt anchored",
            "diffusion-lm" => "as DiffuSeq (prompt anchored; trained unconditionally)",
            _ => "the prompt as clean context, one block of 4, greedy projection",
        };
        string HeldCell(string f) => f switch
        {
            "ar" => Inv($"{held[f].Value:F3} nats/answer token (exact NLL)"),
            "mdm" => Inv($"{held[f].Value:F3} nats/answer token (ELBO bound)"),
            "bd3" => Inv($"{held[f].Value:F3} nats/answer token (BD3 bound, sum over blocks, the grid's EOS pads included)"),
            "ssd-lm" => Inv($"{held[f].Value:F3} nats/token denoising CE over whole examples (own objective, not a bound)"),
            _ => Inv($"L_e2e-simple {held[f].Value:F3}/token{(f == "diffuseq" ? " over answer rows" : " over whole examples")}, of which rounding {held[f].Rounding:F3} nats (own objective, not a bound)"),
        };
        var md = new StringBuilder()
            .Append("# Every family on one seq2seq task at equal compute\n\n")
            .Append($"Command: `{o.Command}`\n\n")
            .Append(Inv($"Data (seed {o.Seed}, `data/`): `reverse A B C` → `C B A` over {names} made-up names, each one token of a word-level vocabulary ({tok.VocabSize} tokens); "))
            .Append(Inv($"{trainCount} training pairs and {testCount} held-out triples never trained (every name is trained in other triples). "))
            .Append("Every example is 9 tokens (BOS, prompt, answer, EOS).\n\n")
            .Append($"Every model: {config.Describe(shape, parameters)}. Equal compute: the same steps and examples per step; the text families ")
            .Append(Inv($"(Diffusion-LM, SSD-LM) see {config.BatchSize} random windows of {WordReversalTask.ExampleTokens} tokens of the concatenated training examples per step (the same tokens per step; a window is rarely one whole example), "))
            .Append("BD3 runs its backbone over [x_t ; x_0] (twice the tokens per forward), the continuous families add a time embedding. ")
            .Append("Trained one after another with one kernel thread; minutes exclude the checkpoint evaluations.\n\n")
            .Append(Markdown.Table(["family", "trained on", "decoding", "training min", "final loss (last 10 %)"],
                Families.Select(f => (IReadOnlyList<string>)[Label(f), Training(f), Decoding(f), Markdown.Num(minutes[f]), Markdown.Num(finalLoss[f], "F3")])))
            .Append("\n## Held-out exact match against training steps\n\n")
            .Append(Inv($"Decoding at each checkpoint: AR greedy; MDM and BD3 one token per step ({AnswerTokens} steps); the continuous families {continuousSteps[^2]} reverse steps. Seed {o.Seed} for every draw.\n\n"))
            .Append(Markdown.Table(["family", .. steps.Select(s => Inv($"step {s}"))], Families.Select(f => (IReadOnlyList<string>)[Label(f), .. steps.Select(s => Cell(f, s))])))
            .Append("\n## Held-out exact match against decoding steps (final checkpoint)\n\n")
            .Append("Each cell: accuracy (model forwards per answer token).\n\n")
            .Append(Markdown.Table(["family", "steps", "accuracy", "forwards/token"],
                final.OrderBy(kv => Array.IndexOf(Families, kv.Key.Item1)).ThenByDescending(kv => kv.Key.Item2)
                    .Select(kv => (IReadOnlyList<string>)[Label(kv.Key.Item1), kv.Key.Item2.ToString(CultureInfo.InvariantCulture), Markdown.Percent(kv.Value.Accuracy), Markdown.Num(kv.Value.Forwards, "F2")])))
            .Append("\n## Held-out likelihood (final checkpoint)\n\n")
            .Append(Inv($"On the {testCount} held-out examples. AR, MDM, BD3: nats per answer token (3 names + EOS) given the prompt; AR exact, MDM the Monte Carlo ELBO (LLaDA Eq. 6) "))
            .Append("and BD3 the sum of its blocks' bounds, both upper bounds on the NLL in expectation. The continuous families have no tractable likelihood here: ")
            .Append("their own training objective averaged over t, in their own units (DiffuSeq conditional on the prompt, Diffusion-LM and SSD-LM over whole examples as text). ")
            .Append("Only the first three compare with each other.\n\n")
            .Append(Markdown.Table(["family", "held-out"], Families.Select(f => (IReadOnlyList<string>)[Label(f), HeldCell(f)])));
        var plot = new PlotSpec("Held-out exact match on unseen triples vs training steps", "optimizer steps", "exact match (%)", [],
            [.. Families.Select(f => (Label(f), steps.Select(s => 100 * (curve.TryGetValue((f, s), out double a) ? a : double.NaN)).ToArray()))],
            [.. steps.Select(s => (double)s)]);
        return new ExperimentOutcome(md.ToString(), plot);
    }
}
