using System.CommandLine;
using Dllm.Model;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Cli;

/// <summary>
/// <c>dllm eval</c>: held-out likelihood in nats per token — the Monte Carlo ELBO bound (LLaDA Eq. 6)
/// for masked diffusion checkpoints, the exact negative log-likelihood for autoregressive ones — on the
/// same chunks of text, so the two kinds compare directly (<see cref="HeldOutLikelihood"/>). A continuous-family
/// checkpoint gets its own training objective instead (<see cref="ContinuousEvaluation"/>; DiffuSeq on prompt/response JSONL).
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var data = new Option<FileInfo>("--data") { Description = "UTF-8 text, or *.jsonl with {\"text\": ...} per line, to score", Required = true };
        var seqLen = new Option<int>("--seq-len") { DefaultValueFactory = _ => 128, Description = "Tokens per scored chunk (after a BOS)" };
        var chunks = new Option<int>("--chunks") { DefaultValueFactory = _ => 8, Description = "Chunks scored, evenly spaced through the file" };
        var samples = new Option<int>("--samples") { DefaultValueFactory = _ => 32, Description = "Monte Carlo samples per chunk (MDM: a multiple of 8; continuous families: noise draws per example)" };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 0 };
        var threads = ThreadsOption.Create();
        var cmd = new Command("eval", "Likelihood of held-out text: ELBO bound (MDM) or NLL (AR), nats/token; a continuous family's own training objective") { model, data, seqLen, chunks, samples, seed, threads };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            string dir = ModelOption.Resolve(r.GetValue(model));
            int len = r.GetValue(seqLen);
            if (len < 1) throw new ArgumentException("--seq-len must be positive");
            if (ModelOption.ContinuousConfig(dir) is ModelConfig continuous)
                return ContinuousEval(dir, continuous, r.GetValue(data)!.FullName, len, r.GetValue(chunks), r.GetValue(samples), r.GetValue(seed));
            using Transformer lm = Transformer.Load(dir);
            HeldOutLikelihood.CheckChunkLength(lm, len);
            ITokenizer tok = TokenizerLoader.Load(dir);
            TextCorpus corpus = TextCorpus.Load([r.GetValue(data)!.FullName], tok, len);
            int bos = tok.BosId ?? throw new ArgumentException("the tokenizer has no BOS token to start chunks with");
            LikelihoodScore s = HeldOutLikelihood.Score(lm, corpus, bos, len, r.GetValue(chunks), r.GetValue(samples), new Random(r.GetValue(seed)));
            Console.WriteLine($"{lm.Config.KindName} model: {(s.IsBound ? "ELBO bound" : "NLL")} {s.NatsPerToken:F4} nats/token, perplexity {(s.IsBound ? "≤ " : "")}{s.Perplexity:F3}, over {s.Chunks} × {s.TokensPerChunk} tokens");
            return 0;
        }));
        return cmd;
    }

    /// <summary>
    /// A continuous family's own objective on held-out data (<see cref="ContinuousEvaluation"/>): evenly spaced
    /// chunks of text (Diffusion-LM, SSD-LM) or the first --chunks prompt/response pairs of a JSONL file (DiffuSeq).
    /// </summary>
    private static int ContinuousEval(string dir, ModelConfig config, string data, int len, int chunks, int samples, int seed)
    {
        if (chunks < 1) throw new ArgumentException($"--chunks must be positive, got {chunks}");
        if (len > config.MaxSequenceLength) throw new ArgumentException($"--seq-len {len} is longer than the model's max_sequence_length {config.MaxSequenceLength}");
        if (config.Kind == ModelKind.SsdLm && len < config.SsdBlockSize)
            throw new ArgumentException($"--seq-len {len} is shorter than the model's block of {config.SsdBlockSize} tokens");
        var model = new TrainableModel(config);
        TrainingCheckpoint.LoadWeights(dir, model);
        ITokenizer tok = TokenizerLoader.Load(dir);
        List<int[]> examples;
        List<int>? promptLengths = null;
        if (config.Kind == ModelKind.DiffuSeq)
        {
            var pairs = SftDataset.Load(data, tok, config.MaxSequenceLength).Take(chunks).ToList();
            examples = pairs.Select(p => p.Prompt.Concat(p.Answer).ToArray()).ToList();
            promptLengths = pairs.Select(p => p.Prompt.Length).ToList();
        }
        else
        {
            TextCorpus corpus = TextCorpus.Load([data], tok, len);
            if (corpus.Tokens.Length < len) throw new ArgumentException($"the text has {corpus.Tokens.Length} tokens, fewer than one chunk of {len}");
            examples = Enumerable.Range(0, chunks).Select(i => corpus.EvenChunk(i, chunks, len).ToArray()).ToList();
        }
        ContinuousScore s = ContinuousEvaluation.Score(model, examples, promptLengths, samples, new Random(seed));
        string what = s.Mse is double mse
            ? $"L_e2e-simple {s.Loss:F4} per token = x0 MSE {mse:F4} + rounding {s.Rounding:F4} nats + prior {s.Prior:F4}"
            : $"denoising cross-entropy {s.Loss:F4} nats/token";
        Console.WriteLine($"{config.KindName} model: {what}, averaged over t ~ U{{0..{config.DiffusionSteps - 1}}} ({s.Examples} examples × {s.Samples} samples; the family's training objective, not a likelihood bound)");
        return 0;
    }
}
