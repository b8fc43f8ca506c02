using System.Diagnostics;
using System.Globalization;
using Dllm.Model;
using Dllm.Text;

namespace Dllm.Training;

/// <summary>The knobs of a from-scratch run (nanoGPT-style: readable, all in one place).</summary>
public sealed record TrainerOptions
{
    /// <summary>"mdm" (masked diffusion, LLaDA Eq. 3), "ar" (next-token, causal attention), "bd3" (block diffusion, BD3-LM),
    /// "sft" or "ar-sft" (set by RunSft), or a continuous family: "diffusion-lm", "ssd-lm" (text) or "diffuseq"
    /// (prompt/response pairs; <see cref="Trainer.RunContinuous"/>).</summary>
    public string Objective { get; init; } = "mdm";
    /// <summary>The model to train. Its kind and attention are set from <see cref="Objective"/> and its
    /// special ids from the tokenizer (<see cref="Trainer.ModelConfigFor"/>); the shape is taken as is.</summary>
    public required ModelConfig Config { get; init; }
    public int Steps { get; init; } = 1000;
    public int BatchSize { get; init; } = 16;
    public int SeqLen { get; init; } = 128;
    public int GradAccum { get; init; } = 1;
    public double LearningRate { get; init; } = 4e-4;
    public int WarmupSteps { get; init; } = 100;
    /// <summary>Warmup-stable-decay: the last DecayFraction of the steps decay linearly to 10 % of the peak.</summary>
    public double DecayFraction { get; init; } = 0.2;
    public double WeightDecay { get; init; } = 0.1;
    public double ClipNorm { get; init; } = 1.0;
    public int Seed { get; init; } = 1;
    public int SaveEvery { get; init; } = 200;
    /// <summary>"bd3" only: the block size B of block diffusion (--block-size); the sequence length must be a multiple of it.</summary>
    public int BlockSize { get; init; }
    /// <summary>"bd3" only: each block's masking rate is drawn from [NoiseMin, NoiseMax] (BD3-LM's clipped schedule).</summary>
    public double NoiseMin { get; init; } = 0.3;
    public double NoiseMax { get; init; } = 0.8;
    /// <summary>Adaptation from an AR checkpoint, "mdm" only: attention widens from causal to bidirectional over this many
    /// steps (DiffuLLaMA's mask annealing; <see cref="Dllm.Tensors.AttentionPatternKind.Annealed"/>); 0 = bidirectional at once.</summary>
    public int AnnealSteps { get; init; }
    /// <summary>"mdm" and "bd3": pair every noised sequence with its complementary mask (the batch doubles).</summary>
    public bool Complementary { get; init; }
    /// <summary>SFT only: draw each batch from one of this many length buckets (1 = mixed batches); see <see cref="SftBatchSampler"/>.</summary>
    public int LengthBuckets { get; init; } = 1;

    /// <exception cref="ArgumentException">A knob is out of range; the message names the flag.</exception>
    /// <exception cref="InvalidDataException">The model config is invalid; the message names the field.</exception>
    public void Validate()
    {
        if (Objective is not ("mdm" or "ar" or "bd3" or "sft" or "ar-sft" or "bd3-sft" or "diffusion-lm" or "diffuseq" or "ssd-lm"))
            throw new ArgumentException($"--objective must be mdm, ar, bd3, diffusion-lm, diffuseq or ssd-lm, got '{Objective}'");
        if (Objective is "bd3" or "bd3-sft")
        {
            if (BlockSize < 1) throw new ArgumentException($"--block-size must be at least 1 for --objective bd3, got {BlockSize}");
            if (Objective == "bd3" && SeqLen % BlockSize != 0) throw new ArgumentException($"--seq-len {SeqLen} must be a multiple of --block-size {BlockSize}");
            if (!(NoiseMin > 0 && NoiseMin <= NoiseMax && NoiseMax <= 1))
                throw new ArgumentException($"--noise-min {NoiseMin} and --noise-max {NoiseMax} must satisfy 0 < min ≤ max ≤ 1");
        }
        else if (BlockSize != 0) throw new ArgumentException("--block-size applies to --objective bd3 only");
        if (AnnealSteps < 0) throw new ArgumentException($"--anneal-steps must be ≥ 0, got {AnnealSteps}");
        if (AnnealSteps > 0 && Objective != "mdm") throw new ArgumentException("--anneal-steps applies to masked diffusion (--to mdm) only");
        if (Complementary && Objective is not ("mdm" or "bd3")) throw new ArgumentException("--complementary applies to the mdm and bd3 objectives");
        if (Steps <= 0) throw new ArgumentException($"--steps must be positive, got {Steps}");
        if (BatchSize <= 0) throw new ArgumentException($"--batch-size must be positive, got {BatchSize}");
        if (SeqLen < 2) throw new ArgumentException($"--seq-len must be at least 2, got {SeqLen}");
        if (SeqLen > Config.MaxSequenceLength) throw new ArgumentException($"--seq-len {SeqLen} is longer than the model's max sequence length {Config.MaxSequenceLength}");
        if (GradAccum <= 0) throw new ArgumentException($"--grad-accum must be positive, got {GradAccum}");
        if (!(LearningRate > 0)) throw new ArgumentException($"--lr must be positive, got {LearningRate}");
        if (WarmupSteps < 0) throw new ArgumentException($"--warmup must be ≥ 0, got {WarmupSteps}");
        if (WarmupSteps + (long)(Steps * DecayFraction) > Steps)
            throw new ArgumentException($"--warmup {WarmupSteps} is too long for --steps {Steps}: warmup plus the final {DecayFraction:P0} of decay must fit in the run");
        if (SaveEvery <= 0) throw new ArgumentException($"--save-every must be positive, got {SaveEvery}");
        if (LengthBuckets < 1) throw new ArgumentException($"--length-buckets must be at least 1, got {LengthBuckets}");
        Config.Validate();
    }
}

/// <summary>One logged step.</summary>
public sealed record TrainProgress(long Step, int TotalSteps, double Loss, double GradNorm, double LearningRate, double TokensPerSecond);

/// <summary>
/// The training loop: seeded batches per step, objective, AdamW with warmup-stable-decay, gradient
/// clipping and accumulation, a CSV log (<c>train_log.csv</c>) and atomic checkpoints in the output
/// directory. Resuming reloads weights, moments and the step, and continues with the same batches.
/// </summary>
public static class Trainer
{
    /// <summary>Pre-training on a text corpus with the MDM or AR objective, or a continuous family on text (diffusion-lm, ssd-lm).</summary>
    public static TrainableModel Run(TrainerOptions o, TextCorpus corpus, ITokenizer tokenizer, string outDir, bool resume,
        Action<TrainProgress>? onStep = null, CancellationToken ct = default)
        => Run(o, corpus, tokenizer, outDir, resume, onStep, ct, afterSaveOperation: null);

    /// <summary><see cref="Run(TrainerOptions, TextCorpus, ITokenizer, string, bool, Action{TrainProgress}?, CancellationToken)"/>
    /// with a test hook called after every file operation of every save with (step, operation): a test
    /// throws from it to kill a save anywhere.</summary>
    internal static TrainableModel Run(TrainerOptions o, TextCorpus corpus, ITokenizer tokenizer, string outDir, bool resume,
        Action<TrainProgress>? onStep, CancellationToken ct, Action<long, string>? afterSaveOperation, string? initFrom = null)
    {
        o.Validate();
        if (corpus.Tokens.Length < o.SeqLen) throw new InvalidDataException($"the data has {corpus.Tokens.Length} tokens, fewer than --seq-len {o.SeqLen}");
        if (o.Objective is "diffusion-lm" or "ssd-lm")
            return Loop(o, tokenizer, outDir, resume, initFrom, ContinuousMicroBatch(o, key => (corpus.Batch(o.BatchSize, o.SeqLen, o.Seed, key), o.SeqLen, null)),
                onStep, ct, afterSaveOperation);
        var mdm = new MaskedDiffusionObjective(tokenizer.MaskId, complementary: o.Complementary);
        BlockDiffusionObjective? bd3 = o.Objective == "bd3" ? new(tokenizer.MaskId, o.BlockSize, o.NoiseMin, o.NoiseMax) { Complementary = o.Complementary } : null;
        return Loop(o, tokenizer, outDir, resume, initFrom, Batches(key =>
        {
            int[] clean = corpus.Batch(o.BatchSize, o.SeqLen, o.Seed, key);
            TrainingBatch batch = o.Objective switch
            {
                "mdm" => mdm.Sample(clean, o.BatchSize, o.SeqLen, TextCorpus.StepRandom(o.Seed + 1, key)),
                "bd3" => bd3!.Sample(clean, o.BatchSize, o.SeqLen, TextCorpus.StepRandom(o.Seed + 1, key)),
                _ => AutoregressiveObjective.Build(clean, o.BatchSize, o.SeqLen),
            };
            long step = key / o.GradAccum;
            if (step < o.AnnealSteps) // causal at step 0, bidirectional once the window covers the sequence
                batch = batch with { Pattern = Dllm.Tensors.AttentionPattern.Annealed((int)(step * (long)o.SeqLen / o.AnnealSteps)) };
            return batch;
        }), onStep, ct, afterSaveOperation);
    }

    /// <summary>
    /// AR-to-diffusion adaptation (DiffuLLaMA, Gong et al. 2024; Fast-dLLM v2, Wu et al. 2025): the weights of the
    /// autoregressive checkpoint in <paramref name="fromDir"/> continue training as a masked (objective "mdm") or block
    /// (objective "bd3") diffusion model of the same shape. The new config keeps the logits shifted (position p read
    /// from row p − 1, <see cref="ModelConfig.AdaptedShift"/>) so every position goes on predicting the next token;
    /// options may anneal the attention mask (mdm) and pair masks with their complements.
    /// </summary>
    /// <exception cref="InvalidDataException">The source is not an autoregressive checkpoint.</exception>
    public static TrainableModel Adapt(TrainerOptions o, TextCorpus corpus, ITokenizer tokenizer, string fromDir, string outDir, bool resume,
        Action<TrainProgress>? onStep = null, CancellationToken ct = default)
    {
        o = o with { Config = AdaptedConfig(o.Objective, tokenizer, fromDir, o.BlockSize) };
        return Run(o, corpus, tokenizer, outDir, resume, onStep, ct, afterSaveOperation: null, initFrom: fromDir);
    }

    /// <summary>
    /// <see cref="Adapt(TrainerOptions, TextCorpus, ITokenizer, string, string, bool, Action{TrainProgress}?, CancellationToken)"/>
    /// on prompt/response pairs: the AR checkpoint (e.g. one trained by <c>dllm train --objective ar</c> on the same pairs)
    /// continues with the SFT objective of the target kind (<see cref="RunSft"/>: prompt never masked, EOS-padded
    /// answers), logits kept shifted, so what the AR model learned about reading the prompt carries over.
    /// </summary>
    /// <exception cref="InvalidDataException">The source is not an autoregressive checkpoint.</exception>
    /// <exception cref="ArgumentException">Mask annealing or complementary masks asked for (pretraining only).</exception>
    public static TrainableModel AdaptSft(TrainerOptions o, IReadOnlyList<(int[] Prompt, int[] Answer)> examples, ITokenizer tokenizer, string fromDir,
        string outDir, bool resume, Action<TrainProgress>? onStep = null, CancellationToken ct = default)
    {
        int blockSize = o.Objective == "bd3" ? o.BlockSize : 0;
        ModelConfig config = AdaptedConfig(o.Objective, tokenizer, fromDir, blockSize);
        if (o.AnnealSteps > 0 || o.Complementary) throw new ArgumentException("--anneal-steps and --complementary adapt on text; on prompt/response pairs leave them out");
        return RunSft(o with { Config = config }, examples, tokenizer, outDir, resume, initFrom: fromDir, onStep, ct, autoregressive: false, blockSize: blockSize);
    }

    /// <summary>What an adaptation trains: the autoregressive source's shape as the target kind, logits kept shifted.</summary>
    /// <exception cref="InvalidDataException">The source is not an autoregressive checkpoint.</exception>
    /// <exception cref="ArgumentException">A target other than mdm or bd3.</exception>
    private static ModelConfig AdaptedConfig(string objective, ITokenizer tokenizer, string fromDir, int blockSize)
    {
        ModelConfig source = ModelConfig.Load(Path.Combine(fromDir, "config.json"));
        if (source.Kind != ModelKind.Autoregressive)
            throw new InvalidDataException($"--from {fromDir} is a {source.KindName} checkpoint; adaptation starts from an autoregressive one");
        if (objective is not ("mdm" or "bd3")) throw new ArgumentException($"--to must be mdm or bd3, got '{objective}'");
        return ModelConfigFor(source, objective, tokenizer, blockSize) with { AdaptedShift = true, SourcePath = null };
    }


    /// <summary>
    /// DiffuSeq (objective "diffuseq") on prompt/response pairs: each batch EOS-padded to its longest example
    /// like SFT, the prompt rows anchored and the response rows (padding included, as DiffuSeq learns its
    /// PAD tokens) noised (<see cref="EmbeddingDiffusionObjective"/>).
    /// </summary>
    public static TrainableModel RunContinuous(TrainerOptions o, IReadOnlyList<(int[] Prompt, int[] Answer)> examples, ITokenizer tokenizer,
        string outDir, bool resume, Action<TrainProgress>? onStep = null, CancellationToken ct = default)
    {
        if (o.Objective != "diffuseq") throw new ArgumentException($"prompt/response pairs train --objective diffuseq, not {o.Objective}");
        if (examples.Count == 0) throw new InvalidDataException("the DiffuSeq data has no examples");
        var sft = new SftObjective(tokenizer.MaskId, tokenizer.EosId);
        var sampler = new SftBatchSampler(examples.Select(e => e.Prompt.Length + e.Answer.Length).ToArray(), o.LengthBuckets);
        return Loop(o, tokenizer, outDir, resume, null, ContinuousMicroBatch(o, key =>
        {
            var picked = sampler.Next(o.BatchSize, TextCorpus.StepRandom(o.Seed, key)).Select(i => examples[i]).ToArray();
            var (tokens, length, promptLengths) = sft.Pad(picked);
            var noised = new bool[tokens.Length];
            for (int b = 0; b < picked.Length; b++)
                for (int i = promptLengths[b]; i < length; i++) noised[b * length + i] = true;
            return (tokens, length, noised);
        }), onStep, ct);
    }

    /// <summary>One micro-batch of a token-batch objective: forward, backward, (loss, tokens).</summary>
    private static Func<TrainableModel, long, float, (double, long)> Batches(Func<long, TrainingBatch> makeBatch) => (model, key, scale) =>
    {
        TrainingBatch b = makeBatch(key);
        double loss = model.Forward(b);
        model.Backward(scale);
        return (loss, (long)b.Batch * b.Length);
    };

    /// <summary>One micro-batch of a continuous family: the clean batch of key (ids, length, noised rows or
    /// null for all), its noise drawn from (seed + 1, key), loss and gradient by the family's objective.</summary>
    private static Func<TrainableModel, long, float, (double, long)> ContinuousMicroBatch(TrainerOptions o,
        Func<long, (int[] Tokens, int Length, bool[]? Noised)> clean) => (model, key, scale) =>
    {
        ModelConfig c = model.Config;
        var (tokens, length, noised) = clean(key);
        Random rng = TextCorpus.StepRandom(o.Seed + 1, key);
        var schedule = NoiseSchedule.For(c);
        if (c.Kind == ModelKind.SsdLm)
        {
            var ssd = new SimplexDiffusionObjective(schedule, c.SimplexK, c.SsdBlockSize);
            SimplexDiffusionDraw draw = ssd.Sample(tokens, o.BatchSize, length, c.EmbeddingRows, rng);
            return (ssd.Loss(model, draw, scale), (long)draw.Batch * draw.Length);
        }
        var emb = new EmbeddingDiffusionObjective(schedule);
        EmbeddingDiffusionDraw d = emb.Sample(tokens, o.BatchSize, length, noised, c.DModel, rng);
        return (emb.Loss(model, d, scale).Total, (long)d.Batch * d.Length);
    };

    /// <summary>
    /// Supervised fine-tuning (LLaDA Eq. 5): prompts never masked, answers EOS-padded to the batch's
    /// longest example (batches drawn by <see cref="SftBatchSampler"/>). Starts from the weights in <paramref name="initFrom"/> unless resuming.
    /// With <paramref name="autoregressive"/> the same batches train a causal model on next-token loss
    /// over the answers (<see cref="AutoregressiveSftObjective"/>, objective "ar-sft"): the AR baseline
    /// with the same data, examples and steps.
    /// </summary>
    public static TrainableModel RunSft(TrainerOptions o, IReadOnlyList<(int[] Prompt, int[] Answer)> examples, ITokenizer tokenizer,
        string outDir, bool resume, string? initFrom, Action<TrainProgress>? onStep = null, CancellationToken ct = default,
        bool autoregressive = false, int blockSize = 0)
    {
        o = o with { Objective = autoregressive ? "ar-sft" : blockSize > 0 ? "bd3-sft" : "sft", BlockSize = blockSize };
        if (examples.Count == 0) throw new InvalidDataException("the SFT data has no examples");
        var sft = new SftObjective(tokenizer.MaskId, tokenizer.EosId);
        BlockDiffusionObjective? blocks = blockSize > 0 ? new(tokenizer.MaskId, blockSize, o.NoiseMin, o.NoiseMax) : null;
        var sampler = new SftBatchSampler(examples.Select(e => e.Prompt.Length + e.Answer.Length).ToArray(), o.LengthBuckets);
        return Loop(o, tokenizer, outDir, resume, initFrom, Batches(key =>
        {
            Random rng = TextCorpus.StepRandom(o.Seed, key);
            var picked = sampler.Next(o.BatchSize, rng).Select(i => examples[i]).ToArray();
            int longest = picked.Max(e => e.Item1.Length + e.Item2.Length);
            var (tokens, length, promptLengths) = sft.Pad(picked, blocks is null ? null : (longest + blockSize - 1) / blockSize * blockSize);
            if (blocks is not null) return blocks.SampleAnswers(tokens, o.BatchSize, length, promptLengths, rng);
            return autoregressive
                ? AutoregressiveSftObjective.Build(tokens, o.BatchSize, length, promptLengths, picked.Select(e => e.Item2.Length).ToArray())
                : sft.Sample(tokens, o.BatchSize, length, promptLengths, rng);
        }), onStep, ct);
    }

    /// <summary>The shared loop: AdamW + WSD, clipping, accumulation, CSV log, checkpoints, resume.
    /// micro(model, key, scale) runs micro-batch key (forward, backward of scale·loss) and returns its loss and
    /// token count; its batch must depend on key alone so that a resumed run sees the same batches.</summary>
    private static TrainableModel Loop(TrainerOptions o, ITokenizer tokenizer, string outDir, bool resume, string? initFrom,
        Func<TrainableModel, long, float, (double Loss, long Tokens)> micro, Action<TrainProgress>? onStep, CancellationToken ct,
        Action<long, string>? afterSaveOperation = null)
    {
        o.Validate();
        ModelConfig config = ModelConfigFor(o.Config, o.Objective, tokenizer, o.BlockSize);
        TrainingCheckpoint.Recover(outDir); // finish a save a kill interrupted
        if (resume) CheckSameArchitecture(outDir, config);
        else TrainingCheckpoint.CheckOutputDirectory(outDir);
        if (o.Objective is "mdm" or "ar" or "bd3")
        {
            // Pre-training batches have a fixed shape: size one (its ids, rows, targets and weights, and the
            // forward's saved activations) before the first is built, so a huge --batch-size fails at once.
            int canvas = o.Objective == "bd3" ? 2 * o.SeqLen : o.SeqLen; // BD3 trains on [x_t ; x_0]
            long n = (long)o.BatchSize * canvas;
            double floats = n > int.MaxValue ? double.PositiveInfinity : Model.ActivationTape.Floats(config.NLayers, true, (int)n, o.BatchSize,
                canvas, config.DModel, config.NHeads, config.KvHeads, config.HeadDim, config.MlpHiddenSize, (int)n, 0);
            Dllm.IO.MemoryBudget.Require(4 * floats + 20.0 * n, $"a batch of {o.BatchSize} × {o.SeqLen} tokens (--batch-size × --seq-len) and its activations");
        }
        var model = TrainableModel.Create(config, o.Seed);
        if (config.IsContinuous && initFrom is null) model.InitializeContinuousEmbeddings(new Random(o.Seed + 2));
        if (initFrom is not null && !resume) TrainingCheckpoint.LoadWeights(initFrom, model);
        var opt = new AdamW(model.Parameters, weightDecay: o.WeightDecay);
        long start = 0, tokensSeen = 0;
        if (resume)
        {
            TrainerState st = TrainingCheckpoint.Load(outDir, model, opt);
            if (st.Objective != o.Objective) throw new ArgumentException($"cannot resume: the checkpoint was trained with objective {st.Objective}, not {o.Objective}");
            start = st.Step; tokensSeen = st.TokensSeen;
        }
        long decay = (long)(o.Steps * o.DecayFraction);
        var schedule = new WarmupStableDecay(o.LearningRate, o.WarmupSteps, o.Steps, decay, o.LearningRate * 0.1);
        Directory.CreateDirectory(outDir);
        string logPath = Path.Combine(outDir, TrainLog.FileName);
        if (!resume || !File.Exists(logPath)) File.WriteAllText(logPath, TrainLog.Header + "\n");
        else TruncateLog(logPath, start);

        var sw = Stopwatch.StartNew();
        long stepTokens = 0;
        for (long step = start; step < o.Steps; step++)
        {
            ct.ThrowIfCancellationRequested();
            double lr = schedule.At(step);
            long batchTokens = 0, first = step * o.GradAccum;
            var (loss, norm) = TrainStep.Run(model, opt, o.GradAccum, (a, scale) =>
            {
                var (l, tokens) = micro(model, first + a, scale);
                batchTokens += tokens;
                return l;
            }, lr, o.ClipNorm);
            tokensSeen += batchTokens; stepTokens += batchTokens;
            double tps = stepTokens / sw.Elapsed.TotalSeconds;
            File.AppendAllText(logPath, string.Create(CultureInfo.InvariantCulture, $"{step + 1},{loss:G6},{norm:G6},{lr:G6},{tps:F0}\n"));
            onStep?.Invoke(new TrainProgress(step + 1, o.Steps, loss, norm, lr, tps));
            if ((step + 1) % o.SaveEvery == 0 || step + 1 == o.Steps)
            {
                long saved = step + 1;
                TrainingCheckpoint.Save(outDir, model, opt, new TrainerState(saved, o.Seed, o.Objective, tokensSeen), tokenizer,
                    afterSaveOperation is null ? null : op => afterSaveOperation(saved, op));
            }
        }
        return model;
    }

    /// <summary>
    /// The config a run of <paramref name="objective"/> trains: the kind and attention the objective
    /// needs ("ar"/"ar-sft" autoregressive and causal, "mdm"/"sft" masked diffusion and bidirectional, "bd3" block
    /// diffusion and block-causal with <paramref name="blockSize"/>, the continuous families bidirectional with their
    /// fields, <see cref="ContinuousDefaults"/>)
    /// and the tokenizer's EOS (also the padding) and mask ids, written into the checkpoint's config.json.
    /// </summary>
    public static ModelConfig ModelConfigFor(ModelConfig shape, string objective, ITokenizer tokenizer, int blockSize = 0)
    {
        ModelKind kind = objective switch
        {
            "ar" or "ar-sft" => ModelKind.Autoregressive,
            "bd3" or "bd3-sft" => ModelKind.BlockDiffusion,
            "diffusion-lm" => ModelKind.DiffusionLm,
            "diffuseq" => ModelKind.DiffuSeq,
            "ssd-lm" => ModelKind.SsdLm,
            _ => ModelKind.MaskedDiffusion,
        };
        ModelConfig c = shape.As(kind, blockSize) with { EosTokenId = tokenizer.EosId, PadTokenId = tokenizer.EosId, MaskTokenId = tokenizer.MaskId };
        return ContinuousDefaults(c);
    }

    /// <summary>
    /// The continuous families' fields with the papers' defaults where the shape leaves them unset: T = 2000
    /// and the sqrt schedule with tied embeddings (Diffusion-LM, DiffuSeq), T = 5000, the cosine schedule,
    /// K = 5 and blocks of 25 (SSD-LM); cleared for every other kind.
    /// </summary>
    public static ModelConfig ContinuousDefaults(ModelConfig c)
    {
        if (!c.IsContinuous) return c with { DiffusionSteps = 0, NoiseSchedule = null, SimplexK = 0, SsdBlockSize = 0 };
        bool ssd = c.Kind == ModelKind.SsdLm;
        return c with
        {
            WeightTying = ssd ? c.WeightTying : true,
            DiffusionSteps = c.DiffusionSteps > 0 ? c.DiffusionSteps : ssd ? 5000 : 2000,
            NoiseSchedule = c.NoiseSchedule ?? (ssd ? "cosine" : "sqrt"),
            SimplexK = ssd ? (c.SimplexK > 0 ? c.SimplexK : 5) : 0,
            SsdBlockSize = ssd ? (c.SsdBlockSize > 0 ? c.SsdBlockSize : 25) : 0,
        };
    }

    /// <summary>Drops log rows after the resumed step (they are about to be redone) so the curve has no
    /// duplicates; earlier rows are kept. Rewritten atomically: a kill leaves the old log or the new one.</summary>
    private static void TruncateLog(string path, long step)
    {
        var keep = File.ReadLines(path).Take(1).Concat(File.ReadLines(path).Skip(1)
            .Where(l => long.TryParse(l.Split(',')[0], out long s) && s <= step)).ToList();
        Dllm.IO.AtomicFile.WriteAllText(path, string.Join("\n", keep) + "\n");
    }

    /// <summary>
    /// Refuses to resume with flags that describe another model than the checkpoint's: loading would
    /// fail half-way or, worse, succeed on a prefix of the tensors and then overwrite the checkpoint.
    /// </summary>
    /// <exception cref="ArgumentException">Lists every field that differs (checkpoint value vs requested).</exception>
    private static void CheckSameArchitecture(string dir, ModelConfig requested)
    {
        string path = Path.Combine(dir, "config.json");
        if (!File.Exists(Path.Combine(dir, TrainingCheckpoint.StateFile)))
            throw new InvalidDataException($"cannot resume: no {TrainingCheckpoint.StateFile} in '{dir}'");
        if (!File.Exists(path)) throw new InvalidDataException($"cannot resume: no config.json in '{dir}'");
        ModelConfig saved = ModelConfig.Load(path);
        var diffs = new List<string>();
        void Same<T>(string field, T a, T b) { if (!EqualityComparer<T>.Default.Equals(a, b)) diffs.Add($"{field} {a} in the checkpoint, {b} asked for"); }
        Same("d_model", saved.DModel, requested.DModel);
        Same("n_heads", saved.NHeads, requested.NHeads);
        Same("n_kv_heads", saved.KvHeads, requested.KvHeads);
        Same("n_layers", saved.NLayers, requested.NLayers);
        Same("mlp_hidden_size", saved.MlpHiddenSize, requested.MlpHiddenSize);
        Same("vocab rows", saved.EmbeddingRows, requested.EmbeddingRows);
        Same("max_sequence_length", saved.MaxSequenceLength, requested.MaxSequenceLength);
        Same("rope_theta", saved.RopeTheta, requested.RopeTheta);
        Same("rms_norm_eps", saved.RmsNormEps, requested.RmsNormEps);
        Same("weight_tying", saved.WeightTying, requested.WeightTying);
        Same("q/k/v bias", saved.IncludeQkvBias, requested.IncludeQkvBias);
        Same("o_proj bias", saved.IncludeOutBias, requested.IncludeOutBias);
        Same("head_dim", saved.HeadDim, requested.HeadDim);
        Same("q/k norm", saved.QkNorm, requested.QkNorm);
        Same("experts", saved.Moe?.Experts, requested.Moe?.Experts);
        Same("top-k", saved.Moe?.TopK, requested.Moe?.TopK);
        Same("expert width", saved.Moe?.ExpertHidden, requested.Moe?.ExpertHidden);
        Same("shared expert width", saved.Moe?.SharedExpertHidden, requested.Moe?.SharedExpertHidden);
        Same("moe_layer_freq", saved.Moe is null ? null : string.Join(",", saved.Moe.LayerFreq), requested.Moe is null ? null : string.Join(",", requested.Moe.LayerFreq));
        Same("family", saved.Family, requested.Family);
        Same("model_kind", saved.KindName, requested.KindName);
        Same("attention", saved.AttentionName, requested.AttentionName);
        Same("diffusion_steps", saved.DiffusionSteps, requested.DiffusionSteps);
        Same("noise_schedule", saved.NoiseSchedule, requested.NoiseSchedule);
        Same("simplex_k", saved.SimplexK, requested.SimplexK);
        Same("ssd_block_size", saved.SsdBlockSize, requested.SsdBlockSize);
        if (diffs.Count > 0)
            throw new ArgumentException($"cannot resume '{dir}' with another model: {string.Join("; ", diffs)} (resume with the flags the run started with)");
    }
}
