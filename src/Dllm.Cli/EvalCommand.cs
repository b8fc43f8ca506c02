using System.CommandLine;
using Dllm.Model;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Cli;

/// <summary>
/// <c>dllm eval</c>: held-out likelihood in nats per token — the Monte Carlo ELBO bound (LLaDA Eq. 6)
/// for masked diffusion checkpoints, the exact negative log-likelihood for autoregressive ones — on the
/// same chunks of text, so the two kinds compare directly (<see cref="HeldOutLikelihood"/>).
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
            int len = r.GetValue(seqLen);
            if (len < 1) throw new ArgumentException("--seq-len must be positive");
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
}
