using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;

namespace Dllm.Training;

/// <summary>One held-out instruction: the user's message and the exact answer expected.</summary>
public sealed record ExactMatchCase(string Task, string Prompt, string Expected);

/// <summary>What the model answered for one case.</summary>
public sealed record ExactMatchOutcome(ExactMatchCase Case, string Answer)
{
    /// <summary>Exact match after trimming surrounding white space (nothing else is normalised).</summary>
    public bool Correct => Answer.Trim() == Case.Expected.Trim();
}

/// <summary>
/// Accuracy of a chat model on instructions with one right answer (arithmetic, copy a word, ...):
/// each prompt goes through the chat template, the answer is denoised with the given options, cut
/// at the first EOS / <c>&lt;|eot_id|&gt;</c>, decoded, and compared exactly with the expected text.
/// </summary>
public static class ExactMatchEvaluator
{
    /// <summary>Reads JSONL lines <c>{"task": "...", "prompt": "...", "response": "..."}</c>, the format of
    /// <see cref="TaskExample"/> ("task" or "kind" optional: "all"). Blank lines are skipped.</summary>
    /// <exception cref="InvalidDataException">Invalid JSON or a missing string field (names file:line), or no cases.</exception>
    public static List<ExactMatchCase> Load(string path)
        => [.. TaskExample.ReadJsonl(path).Select(e => new ExactMatchCase(e.Kind.Length == 0 ? "all" : e.Kind, e.Prompt, e.Response))];

    /// <summary>Answers every case, <paramref name="batchSize"/> prompts per sampler call (without a KV
    /// cache a batched answer equals the answer alone, see <see cref="DiffusionSampler.GenerateBatch"/>).</summary>
    /// <param name="model">The chat model.</param>
    /// <param name="maskId">Its mask token id.</param>
    /// <param name="tok">Its tokenizer (must know the chat template's special tokens).</param>
    /// <param name="cases">The instructions, answered in order.</param>
    /// <param name="options">Decoding options (the same for every case).</param>
    /// <param name="batchSize">Prompts per sampler call.</param>
    /// <param name="onOutcome">Called once per case, in order.</param>
    /// <param name="ct">Cancels between sampler steps.</param>
    /// <param name="autoregressive">A causal model (the AR twin): greedy left to right, at most
    /// <c>options.GenLength</c> new tokens, the other decoding options unused.</param>
    /// <exception cref="ArgumentException">Invalid options, or a prompt too long for the model.</exception>
    public static List<ExactMatchOutcome> Run(IDenoisingModel model, int maskId, ITokenizer tok, IReadOnlyList<ExactMatchCase> cases,
        DecodingOptions options, int batchSize = 16, Action<ExactMatchOutcome>? onOutcome = null, CancellationToken ct = default, bool autoregressive = false)
    {
        if (batchSize < 1) throw new ArgumentException($"batch size must be positive, got {batchSize}");
        var sampler = new DiffusionSampler(model, maskId);
        var outcomes = new List<ExactMatchOutcome>(cases.Count);
        for (int start = 0; start < cases.Count; start += batchSize)
        {
            var batch = cases.Skip(start).Take(batchSize).ToList();
            var prompts = batch.Select(c => (IReadOnlyList<int>)ChatTemplate.Apply(tok, [new ChatMessage("user", c.Prompt)])).ToList();
            IReadOnlyList<int[]> answers = autoregressive
                ? [.. new AutoregressiveDecoder(model).GreedyBatch(prompts, options.GenLength, tok.EosId, tok.EosId).Select(r => r.Answer)]
                : [.. sampler.GenerateBatch(prompts, options, tok.EosId, cancellationToken: ct).Select(r => r.Answer.ToArray())];
            ct.ThrowIfCancellationRequested();
            for (int i = 0; i < batch.Count; i++)
            {
                string answer = tok.Decode(GeneratedText.TrimAtEos(tok, answers[i]), skipSpecialTokens: true);
                var outcome = new ExactMatchOutcome(batch[i], answer);
                outcomes.Add(outcome);
                onOutcome?.Invoke(outcome);
            }
        }
        return outcomes;
    }
}
