using Dllm.Model;
using Dllm.Tensors;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Experiments;

/// <summary>
/// The shared recipe of a masked-diffusion vs autoregressive comparison: one backbone shape, one
/// parameter count, one data set, one seed, one number of steps and examples per step for both.
/// </summary>
public sealed record TwinConfig
{
    public int DModel { get; init; } = 128;
    public int Layers { get; init; } = 3;
    public int Heads { get; init; } = 4;
    public int Steps { get; init; } = 1000;
    public int BatchSize { get; init; } = 32;
    public double LearningRate { get; init; } = 2e-3;
    public int Warmup { get; init; } = 50;
    public int Seed { get; init; } = 1;
    /// <summary>Checkpoints per run (evenly spaced; the last at the final step): the points a probe may score.</summary>
    public int Checkpoints { get; init; } = 1;

    /// <summary>The backbone for data whose longest example has <paramref name="maxTokens"/> tokens (the
    /// tokenizer's vocabulary and special ids, bytes by default); the trainer sets the kind each twin needs.</summary>
    public ModelConfig Backbone(int maxTokens, ITokenizer? tok = null)
    {
        tok ??= new ByteTokenizer();
        return new ModelConfig
        {
            DModel = DModel, NHeads = Heads, NKvHeads = Heads, NLayers = Layers,
            MlpHiddenSize = Math.Max(64, (DModel * 8 / 3 + 63) / 64 * 64), VocabSize = tok.VocabSize, EmbeddingSize = tok.VocabSize,
            MaxSequenceLength = (maxTokens + 63) / 64 * 64, RopeTheta = 10000,
            EosTokenId = tok.EosId, PadTokenId = tok.EosId, MaskTokenId = tok.MaskId,
        };
    }

    /// <summary>SFT trainer options for these encoded examples: the backbone sized to the longest one,
    /// this recipe's steps, batch, learning rate, warmup and seed, <see cref="Checkpoints"/> checkpoints.</summary>
    public TrainerOptions SftOptions(IReadOnlyList<(int[] Prompt, int[] Answer)> encoded, ITokenizer? tok = null) => new()
    {
        Config = Backbone(encoded.Max(e => e.Prompt.Length + e.Answer.Length), tok), Steps = Steps, BatchSize = BatchSize, SeqLen = 2,
        LearningRate = LearningRate, WarmupSteps = Warmup, Seed = Seed, SaveEvery = SaveEvery,
    };

    /// <summary>Steps between checkpoints.</summary>
    public int SaveEvery => Math.Max(1, Steps / Math.Max(1, Checkpoints));

    /// <summary>One line for results.md.</summary>
    public string Describe(ModelConfig s, long parameters) =>
        $"d_model {s.DModel}, {s.NLayers} layers, {s.NHeads} heads, MLP {s.MlpHiddenSize}, {(s.VocabSize == new ByteTokenizer().VocabSize ? "byte" : "word-level")} vocabulary ({s.VocabSize}), {parameters:N0} parameters; " +
        $"{Steps} steps × {BatchSize} examples, AdamW lr {LearningRate:G3} (warmup {Warmup}, warmup-stable-decay), seed {Seed}";
}

/// <summary>Trains the MDM and AR twins of a <see cref="TwinConfig"/> on the same examples.</summary>
public static class TwinTraining
{
    /// <summary>
    /// Trains both twins (see <see cref="SideBySide"/>) with the tokenizer (bytes by default):
    /// MDM with LLaDA's SFT loss (prompt never masked) into outDir/mdm, AR with next-token loss on the
    /// answers into outDir/ar. Returns the wall-clock seconds of each.
    /// </summary>
    public static (double MdmSeconds, double ArSeconds) TrainBoth(TwinConfig c, IReadOnlyList<TaskExample> train, string outDir,
        Action<string, TrainProgress>? onStep = null, CancellationToken ct = default, ITokenizer? tok = null)
    {
        tok ??= new ByteTokenizer();
        var encoded = train.Select(e => e.Encode(tok)).ToList();
        TrainerOptions options = c.SftOptions(encoded, tok);
        return SideBySide(ar => Trainer.RunSft(options, encoded, tok, Path.Combine(outDir, ar ? "ar" : "mdm"), resume: false, initFrom: null,
            p => onStep?.Invoke(ar ? "ar" : "mdm", p), ct, autoregressive: ar));
    }

    /// <summary>
    /// Pre-trains both twins on text (<see cref="Trainer.Run"/> with objectives "mdm" and "ar", same
    /// shape, steps, batches and seed) side by side into outDir/mdm and outDir/ar.
    /// </summary>
    public static (double MdmSeconds, double ArSeconds) PretrainBoth(TrainerOptions options, TextCorpus corpus, string outDir,
        Action<string, TrainProgress>? onStep = null, CancellationToken ct = default)
    {
        var tok = new ByteTokenizer();
        return SideBySide(ar => Trainer.Run(options with { Objective = ar ? "ar" : "mdm" }, corpus, tok, Path.Combine(outDir, ar ? "ar" : "mdm"),
            resume: false, p => onStep?.Invoke(ar ? "ar" : "mdm", p), ct));
    }

    /// <summary>Runs train(false) (MDM) and train(true) (AR) with single-threaded kernels (equal compute):
    /// on two threads (both cores busy), or one after the other when the run was limited to one thread
    /// (<c>--threads 1</c>); returns the wall-clock seconds of each.</summary>
    private static (double, double) SideBySide(Action<bool> train)
    {
        int saved = Parallelism.Threads;
        bool oneThread = saved < 2;
        Parallelism.Threads = 1;
        try
        {
            double Run(bool ar)
            {
                var sw = System.Diagnostics.Stopwatch.StartNew();
                train(ar);
                return sw.Elapsed.TotalSeconds;
            }
            if (oneThread) return (Run(false), Run(true));
            Task<double> mdm = Task.Factory.StartNew(() => Run(false), TaskCreationOptions.LongRunning);
            Task<double> arTask = Task.Factory.StartNew(() => Run(true), TaskCreationOptions.LongRunning);
            try { Task.WaitAll(mdm, arTask); }
            catch (AggregateException e)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
                throw;
            }
            return (mdm.Result, arTask.Result);
        }
        finally { Parallelism.Threads = saved; }
    }
}
