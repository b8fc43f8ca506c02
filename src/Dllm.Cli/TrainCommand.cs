using System.CommandLine;
using Dllm.Model;
using Dllm.Training;
using Dllm.Text;

namespace Dllm.Cli;

/// <summary><c>dllm train</c>: a LLaDA-architecture model from scratch on text files, byte-level tokens (or
/// whole words with <c>--tokenizer word</c>); with <c>--objective diffusion-lm | diffuseq | ssd-lm</c> one of
/// the continuous diffusion families on the same backbone (diffuseq on prompt/response JSONL); with
/// <c>--experts</c>, a LLaDA-MoE (mixture-of-experts) model in LLaDA-MoE's published layout. Given one JSONL
/// file of prompt/response pairs (or "messages"), mdm/ar/bd3 train from scratch with the SFT objective of
/// their kind (prompt never masked, EOS-padded answers), as <c>dllm sft</c> fine-tunes.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<FileInfo[]>("--data") { Description = "UTF-8 text file(s), or *.jsonl with one {\"text\": ...} document per line, or one *.jsonl of {\"prompt\",\"response\"} / {\"messages\"} pairs (trained with the SFT objective from scratch)", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Checkpoint directory (Hugging Face layout + optimizer state)", Required = true };
        var objective = new Option<string>("--objective")
        {
            Description = "mdm (masked diffusion) | ar (autoregressive baseline) | bd3 (block diffusion, BD3-LM) | diffusion-lm | ssd-lm (continuous diffusion on text) | diffuseq (continuous, on prompt/response JSONL)",
            DefaultValueFactory = _ => "mdm",
        };
        objective.AcceptOnlyFromAmong("mdm", "ar", "bd3", "diffusion-lm", "diffuseq", "ssd-lm");
        var blockSize = new Option<int>("--block-size") { DefaultValueFactory = _ => 0, Description = "Block size of --objective bd3 (divides --seq-len)" };
        var noiseMin = new Option<double>("--noise-min") { DefaultValueFactory = _ => 0.3, Description = "bd3: lowest per-block masking rate (BD3-LM's clipped schedule)" };
        var noiseMax = new Option<double>("--noise-max") { DefaultValueFactory = _ => 0.8, Description = "bd3: highest per-block masking rate" };
        var diffusionSteps = new Option<int>("--diffusion-steps") { DefaultValueFactory = _ => 0, Description = "Continuous families: timesteps T (0 = the paper's: 2000, SSD-LM 5000)" };
        var simplexK = new Option<double>("--simplex-k") { DefaultValueFactory = _ => 5, Description = "SSD-LM: K of the almost-one-hot logits" };
        var ssdBlock = new Option<int>("--ssd-block") { DefaultValueFactory = _ => 25, Description = "SSD-LM: tokens per semi-autoregressive block (at most --seq-len)" };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 1000, Description = "Optimizer steps" };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16, Description = "Sequences per micro-batch" };
        var seqLen = new Option<int>("--seq-len") { DefaultValueFactory = _ => 128, Description = "Tokens per sequence" };
        var accum = new Option<int>("--grad-accum") { DefaultValueFactory = _ => 1, Description = "Micro-batches per step" };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 4e-4, Description = "Peak learning rate (warmup-stable-decay)" };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 100, Description = "Warmup steps" };
        var dModel = new Option<int>("--d-model") { DefaultValueFactory = _ => 256 };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 4 };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 4 };
        var kvHeads = new Option<int>("--kv-heads") { DefaultValueFactory = _ => 0, Description = "0 = same as --heads" };
        var mlp = new Option<int>("--mlp-hidden") { DefaultValueFactory = _ => 0, Description = "0 = 8/3 · d-model rounded to 64" };
        var experts = new Option<int>("--experts") { DefaultValueFactory = _ => 0, Description = "Routed experts per layer: a LLaDA-MoE model (mixture-of-experts FFNs); 0 = dense" };
        var topK = new Option<int>("--top-k") { DefaultValueFactory = _ => 2, Description = "Experts each token runs (with --experts)" };
        var expertHidden = new Option<int>("--expert-hidden") { DefaultValueFactory = _ => 0, Description = "Width of each expert; 0 = the dense width / top-k (the same active FFN width)" };
        var sharedHidden = new Option<int>("--shared-expert-hidden") { DefaultValueFactory = _ => 0, Description = "Width of an always-on shared expert; 0 = none" };
        var denseLayers = new Option<int>("--dense-layers") { DefaultValueFactory = _ => 0, Description = "Leading layers that keep a dense FFN (with --experts)" };
        var auxCoef = new Option<double>("--aux-loss-coef") { DefaultValueFactory = _ => 0.01, Description = "Weight of the load-balancing loss (router_aux_loss_coef)" };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var saveEvery = new Option<int>("--save-every") { DefaultValueFactory = _ => 200 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the checkpoint in --out (same batches, same curve)" };
        var tokenizerKind = new Option<string>("--tokenizer")
        {
            Description = "byte (UTF-8 bytes) | word (whole words of the --data files, one token each: for synthetic tasks; whitespace is not preserved)",
            DefaultValueFactory = _ => "byte",
        };
        tokenizerKind.AcceptOnlyFromAmong("byte", "word");
        var threads = ThreadsOption.Create();
        var cmd = new Command("train", "Train a LLaDA-architecture model from scratch (masked diffusion, block diffusion, AR baseline, or a continuous diffusion family)")
        {
            data, output, objective, blockSize, noiseMin, noiseMax, steps, batch, seqLen, accum, lr, warmup, dModel, layers, heads, kvHeads, mlp,
            experts, topK, expertHidden, sharedHidden, denseLayers, auxCoef, seed, saveEvery, resume, tokenizerKind, threads,
            diffusionSteps, simplexK, ssdBlock,
        };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            int d = r.GetValue(dModel), h = r.GetValue(heads), kv = r.GetValue(kvHeads), f = r.GetValue(mlp);
            string[] dataPaths = r.GetValue(data)!.Select(x => x.FullName).ToArray();
            string objectiveName = r.GetValue(objective)!;
            bool continuous = objectiveName is "diffusion-lm" or "diffuseq" or "ssd-lm";
            // Instruction pairs train mdm/ar/bd3 with their SFT objective from scratch; diffuseq always takes pairs.
            bool sftPairs = !continuous && dataPaths.Length == 1 && SftDataset.IsPairFile(dataPaths[0]);
            bool pairs = objectiveName == "diffuseq" || sftPairs;
            if (continuous) CheckContinuousFlags(objectiveName, r.GetValue(diffusionSteps), r.GetValue(ssdBlock), r.GetValue(seqLen), r.GetValue(experts));
            if (pairs && dataPaths.Length != 1) throw new ArgumentException("--objective diffuseq takes one --data JSONL file of {\"prompt\", \"response\"} pairs");
            ITokenizer tokenizer = CreateTokenizer(r.GetValue(tokenizerKind)!, dataPaths, r.GetValue(output)!.FullName, r.GetValue(resume),
                pairs ? () => SftDataset.Texts(dataPaths[0]) : null);
            var shape = new ModelConfig
            {
                DModel = d, NHeads = h, NKvHeads = kv == 0 ? h : kv, NLayers = r.GetValue(layers),
                MlpHiddenSize = f > 0 ? f : Math.Max(64, (d * 8 / 3 + 63) / 64 * 64), VocabSize = tokenizer.VocabSize,
                EmbeddingSize = tokenizer.VocabSize, MaxSequenceLength = Math.Max(r.GetValue(seqLen), 512), RopeTheta = 10000,
                EosTokenId = tokenizer.EosId, PadTokenId = tokenizer.EosId, MaskTokenId = tokenizer.MaskId,
            };
            if (continuous)
            {
                bool ssd = objectiveName == "ssd-lm";
                shape = shape with
                {
                    DiffusionSteps = r.GetValue(diffusionSteps), SimplexK = ssd ? r.GetValue(simplexK) : 0, SsdBlockSize = ssd ? r.GetValue(ssdBlock) : 0,
                };
                shape = Trainer.ModelConfigFor(shape, objectiveName, tokenizer); // the kind, so the shape validates with its fields
            }
            shape = WithExperts(shape, r.GetValue(experts), r.GetValue(topK), r.GetValue(expertHidden), r.GetValue(sharedHidden),
                r.GetValue(denseLayers), r.GetValue(auxCoef));
            var options = new TrainerOptions
            {
                Objective = objectiveName, Config = shape, Steps = r.GetValue(steps), BatchSize = r.GetValue(batch),
                SeqLen = r.GetValue(seqLen), GradAccum = r.GetValue(accum), LearningRate = r.GetValue(lr),
                WarmupSteps = r.GetValue(warmup), Seed = r.GetValue(seed), SaveEvery = r.GetValue(saveEvery),
                BlockSize = r.GetValue(blockSize), NoiseMin = r.GetValue(noiseMin), NoiseMax = r.GetValue(noiseMax),
            };
            options.Validate();
            string outDir = r.GetValue(output)!.FullName;
            if (pairs)
            {
                // DiffuSeq, or the SFT objective of mdm/ar/bd3 from scratch: one loader, one progress view.
                var examples = SftDataset.Load(dataPaths[0], tokenizer, options.SeqLen, "--seq-len");
                string what = sftPairs ? $"{objectiveName} model with the SFT objective" : "diffuseq model";
                string title = sftPairs ? $"{objectiveName} (sft)" : objectiveName;
                Console.Error.WriteLine($"training {what}: {shape.DModel}d × {shape.NLayers} layers, {examples.Count} prompt/response pairs of at most {options.SeqLen} tokens → {outDir}");
                TrainingProgressView.Run($"train {title}", onStep =>
                {
                    if (sftPairs)
                        Trainer.RunSft(options, examples, tokenizer, outDir, r.GetValue(resume), initFrom: null, onStep,
                            autoregressive: objectiveName == "ar", blockSize: objectiveName == "bd3" ? options.BlockSize : 0);
                    else Trainer.RunContinuous(options, examples, tokenizer, outDir, r.GetValue(resume), onStep);
                });
                Console.Error.WriteLine($"loss curve: {LossPlot.Write(outDir, $"dllm train --objective {title}")}");
                return 0;
            }
            TextCorpus corpus = TextCorpus.Load(dataPaths, tokenizer, options.SeqLen);
            string moe = shape.Moe is MoeConfig m ? $", {m.Experts} experts top-{m.TopK} in {m.MoeLayerCount} layers" : "";
            Console.Error.WriteLine($"training {options.Objective} model: {shape.DModel}d × {shape.NLayers} layers{moe}, corpus {corpus.Tokens.Length:N0} tokens → {outDir}");
            TrainingProgressView.Run($"train {options.Objective}", onStep => Trainer.Run(options, corpus, tokenizer, outDir, r.GetValue(resume), onStep));
            Console.Error.WriteLine($"loss curve: {LossPlot.Write(outDir, $"dllm train --objective {options.Objective}")}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>The continuous families' flags, checked before any data is read.</summary>
    /// <exception cref="ArgumentException">A flag out of range; the message names it.</exception>
    private static void CheckContinuousFlags(string objective, int diffusionSteps, int ssdBlock, int seqLen, int experts)
    {
        if (diffusionSteps < 0) throw new ArgumentException($"--diffusion-steps must be ≥ 0, got {diffusionSteps}");
        if (objective == "ssd-lm" && ssdBlock < 1) throw new ArgumentException($"--ssd-block must be positive, got {ssdBlock}");
        if (objective == "ssd-lm" && ssdBlock > seqLen) throw new ArgumentException($"--ssd-block {ssdBlock} is longer than --seq-len {seqLen}");
        if (experts > 0) throw new ArgumentException("the continuous families train a dense model; leave out --experts");
    }

    /// <summary>
    /// The tokenizer of a run: bytes, or a word-level vocabulary built from the data files (on <c>--resume</c>,
    /// the one the checkpoint saved, so ids never shift when the data changed).
    /// </summary>
    /// <param name="texts">Where the vocabulary's words come from when not the data files' text (prompt/response pairs).</param>
    internal static ITokenizer CreateTokenizer(string kind, IReadOnlyList<string> dataPaths, string outDir, bool resume,
        Func<IEnumerable<string>>? texts = null)
    {
        if (kind == "byte") return new ByteTokenizer();
        string saved = Path.Combine(outDir, "tokenizer.json");
        if (resume && File.Exists(saved))
            return TokenizerLoader.Load(saved) as WordLevelTokenizer
                ?? throw new InvalidDataException($"{saved}: --tokenizer word, but the checkpoint's tokenizer is not word-level");
        WordLevelTokenizer words = WordLevelTokenizer.Build(texts?.Invoke() ?? TextCorpus.ReadTexts(dataPaths));
        Console.Error.WriteLine($"word-level vocabulary: {words.VocabSize:N0} tokens");
        return words;
    }

    /// <summary>
    /// The dense <paramref name="shape"/> as a LLaDA-MoE model: every layer after the first
    /// <paramref name="denseLayers"/> routes each token to <paramref name="topK"/> of <paramref name="experts"/>
    /// SwiGLU experts (width <paramref name="expertHidden"/>, or the dense width / top-k), plus a shared expert
    /// when <paramref name="sharedHidden"/> &gt; 0. With no experts the shape is returned as is.
    /// </summary>
    /// <exception cref="ArgumentException">A flag out of range, or an expert flag without --experts; the message names the flag.</exception>
    internal static ModelConfig WithExperts(ModelConfig shape, int experts, int topK, int expertHidden, int sharedHidden, int denseLayers, double auxCoef)
    {
        if (experts < 0) throw new ArgumentException($"--experts must be ≥ 0, got {experts}");
        if (expertHidden < 0) throw new ArgumentException($"--expert-hidden must be ≥ 0, got {expertHidden}");
        if (sharedHidden < 0) throw new ArgumentException($"--shared-expert-hidden must be ≥ 0, got {sharedHidden}");
        if (experts == 0)
        {
            if (expertHidden > 0 || sharedHidden > 0 || denseLayers != 0)
                throw new ArgumentException("--expert-hidden, --shared-expert-hidden and --dense-layers need --experts");
            return shape;
        }
        if (topK < 1 || topK > experts) throw new ArgumentException($"--top-k must lie in 1..--experts ({experts}), got {topK}");
        if (denseLayers < 0 || denseLayers >= shape.NLayers)
            throw new ArgumentException($"--dense-layers must lie in 0..--layers − 1 ({shape.NLayers - 1}), got {denseLayers}");
        if (!(auxCoef >= 0) || double.IsInfinity(auxCoef)) throw new ArgumentException($"--aux-loss-coef must be finite and ≥ 0, got {auxCoef}");
        int width = expertHidden > 0 ? expertHidden : Math.Max(1, shape.MlpHiddenSize / topK);
        return shape with
        {
            Family = ModelFamily.LladaMoe, Architectures = [LladaMoeConfig.Architecture], ModelType = "llada",
            MlpHiddenSize = denseLayers > 0 ? shape.MlpHiddenSize : -1, // dense_intermediate_size: -1 when no layer is dense, as published
            Moe = MoeConfig.Create(shape.NLayers, experts, topK, width, sharedHidden, denseLayers, auxCoef),
        };
    }
}
