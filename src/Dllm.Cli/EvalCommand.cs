using System.CommandLine;
using Dllm.IO;
using Dllm.Model;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Cli;

/// <summary>
/// <c>dllm eval</c>: held-out likelihood in nats per token — the Monte Carlo ELBO bound (LLaDA Eq. 6)
/// for masked diffusion checkpoints, the exact AR negative log-likelihood for `--objective ar`
/// checkpoints — on the same chunks of text, so the two kinds compare directly.
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var data = new Option<FileInfo>("--data") { Description = "UTF-8 text, or *.jsonl with {\"text\": ...} per line, to score", Required = true };
        var seqLen = new Option<int>("--seq-len") { DefaultValueFactory = _ => 128, Description = "Tokens per scored chunk (after a BOS)" };
        var chunks = new Option<int>("--chunks") { DefaultValueFactory = _ => 8, Description = "Chunks scored, evenly spaced through the file" };
        var samples = new Option<int>("--samples") { DefaultValueFactory = _ => 32, Description = "Monte Carlo samples per chunk (MDM; a multiple of 8)" };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 0 };
        var threads = ThreadsOption.Create();
        var cmd = new Command("eval", "Likelihood of held-out text: ELBO bound (MDM) or NLL (AR), nats/token") { model, data, seqLen, chunks, samples, seed, threads };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            string dir = ModelOption.Resolve(r.GetValue(model));
            int len = r.GetValue(seqLen), n = r.GetValue(chunks), mc = r.GetValue(samples);
            if (len < 1 || n < 1) throw new ArgumentException("--seq-len and --chunks must be positive");
            LladaConfig config = LladaModel.LoadConfig(Path.Combine(dir, "config.json"), out _);
            if (len + 1 > config.MaxSequenceLength)
                throw new ArgumentException($"--seq-len {len} plus the BOS token is longer than the model's maximum sequence length {config.MaxSequenceLength}");
            ITokenizer tok = TokenizerLoader.Load(dir);
            TextCorpus corpus = TextCorpus.Load([r.GetValue(data)!.FullName], tok, len);
            int bos = tok.BosId ?? throw new ArgumentException("the tokenizer has no BOS token to start chunks with");
            string objective = TrainingCheckpoint.ObjectiveOf(dir);
            var rng = new Random(r.GetValue(seed));
            double total = 0;
            int[] prompt = [bos];
            if (TrainingCheckpoint.IsAutoregressive(objective))
            {
                var ar = new TrainableLlada(TransformerShape.FromLladaConfig(config));
                TrainingCheckpoint.LoadWeights(dir, ar);
                for (int i = 0; i < n; i++) total += AutoregressiveObjective.NegativeLogLikelihood(ar, prompt, corpus.EvenChunk(i, n, len));
            }
            else
            {
                using LladaModel lm = LladaModel.Load(dir);
                var elbo = new ElboEstimator(lm.Config.MaskTokenId, mc, Math.Min(8, mc));
                for (int i = 0; i < n; i++) total += elbo.NegativeElbo(lm, prompt, corpus.EvenChunk(i, n, len), rng);
            }
            double perToken = total / ((double)n * len);
            Console.WriteLine($"objective {objective}: {(TrainingCheckpoint.IsAutoregressive(objective) ? "NLL" : "ELBO bound")} {perToken:F4} nats/token, perplexity {(TrainingCheckpoint.IsAutoregressive(objective) ? "" : "≤ ")}{Math.Exp(perToken):F3}, over {n} × {len} tokens");
            return 0;
        }));
        return cmd;
    }
}
