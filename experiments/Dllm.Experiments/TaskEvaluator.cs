using System.Diagnostics;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;

namespace Dllm.Experiments;

/// <summary>Accuracy on one kind of question.</summary>
public sealed record KindScore(string Kind, int Correct, int Total)
{
    public double Accuracy => Total == 0 ? double.NaN : (double)Correct / Total;
}

/// <summary>
/// An evaluation: accuracy per kind, plus the cost: answer tokens decoded, wall-clock seconds and
/// forward passes summed over prompts (each prompt's count as if decoded alone).
/// </summary>
public sealed record EvalReport(IReadOnlyList<KindScore> Kinds, long AnswerTokens, double Seconds, long ForwardPasses,
    IReadOnlyList<(TaskExample Item, string Output)> Outputs)
{
    public double TokensPerSecond => AnswerTokens / Math.Max(Seconds, 1e-9);
    public double ForwardsPerToken => (double)ForwardPasses / Math.Max(AnswerTokens, 1);
    public int Correct => Kinds.Sum(k => k.Correct);
    public int Total => Kinds.Sum(k => k.Total);
    public double Accuracy => Total == 0 ? double.NaN : (double)Correct / Total;
    public KindScore? Kind(string kind) => Kinds.FirstOrDefault(k => k.Kind == kind);
}

/// <summary>
/// Asks a trained model every question of a task file and scores the answers by exact match with the
/// response (the answer is cut at the first EOS). A masked diffusion model gets a canvas of exactly
/// |response| + 1 masks (the answer and its EOS) after the prompt, or fills the prompt's
/// <c>[MASK:n]</c> runs for an infilling question; an autoregressive model decodes greedily for at
/// most |response| + 1 tokens and cannot be asked infilling questions (they are skipped: Total 0).
/// </summary>
public static class TaskEvaluator
{
    /// <exception cref="DecodingOptionException">Invalid decoding options (e.g. a block length that does not divide an answer).</exception>
    /// <exception cref="ArgumentException">A batch size or steps per token out of range.</exception>
    public static EvalReport Evaluate(IDenoisingModel model, bool autoregressive, ITokenizer tok, IReadOnlyList<TaskExample> items,
        EvalOptions settings, CancellationToken ct = default)
    {
        if (settings.BatchSize <= 0) throw new ArgumentException($"batch size must be positive, got {settings.BatchSize}");
        if (!(settings.StepsPerToken > 0 && settings.StepsPerToken <= 1)) throw new ArgumentException($"steps per token must be in (0, 1], got {settings.StepsPerToken}");
        var outputs = new string?[items.Count];
        long tokens = 0, forwards = 0;
        var sw = Stopwatch.StartNew();
        // Questions with the same answer length share a canvas shape and decode as one batch.
        var groups = Enumerable.Range(0, items.Count).Where(i => !(autoregressive && items[i].IsInfill))
            .GroupBy(i => (items[i].IsInfill, Length: GenLength(items[i], tok, autoregressive ? null : settings.CanvasLength)));
        foreach (var g in groups)
            foreach (int[] chunk in g.Chunk(settings.BatchSize))
            {
                ct.ThrowIfCancellationRequested();
                if (g.Key.IsInfill)
                    foreach (int i in chunk)
                    {
                        (string text, int nfe, int n) = Fill(model, tok, items[i].Prompt, settings);
                        outputs[i] = text; forwards += nfe; tokens += n;
                    }
                else
                {
                    int len = g.Key.Length;
                    IReadOnlyList<int>[] prompts = [.. chunk.Select(i => (IReadOnlyList<int>)items[i].Encode(tok).Prompt)];
                    if (autoregressive)
                    {
                        var res = new AutoregressiveDecoder(model).GreedyBatch(prompts, len, tok.EosId, tok.EosId);
                        for (int k = 0; k < chunk.Length; k++)
                        {
                            outputs[chunk[k]] = Text(tok, res[k].Answer);
                            forwards += res[k].ForwardPasses; tokens += res[k].Answer.Length;
                        }
                    }
                    else
                    {
                        var res = new DiffusionSampler(model, tok.MaskId).GenerateBatch(prompts, settings.ForAnswer(len, tok.EosId), tok.EosId);
                        for (int k = 0; k < chunk.Length; k++)
                        {
                            outputs[chunk[k]] = Text(tok, res[k].Answer.ToArray());
                            forwards += res[k].ForwardPasses; tokens += len;
                        }
                    }
                }
            }
        double seconds = sw.Elapsed.TotalSeconds;
        var kinds = items.Select((e, i) => (e.Kind, Scored: outputs[i] is not null, Right: outputs[i] == e.Response))
            .GroupBy(x => x.Kind).OrderBy(k => k.Key, StringComparer.Ordinal)
            .Select(k => new KindScore(k.Key, k.Count(x => x.Right), k.Count(x => x.Scored))).ToList();
        return new EvalReport(kinds, tokens, seconds, forwards,
            [.. items.Select((e, i) => (e, outputs[i] ?? "")).Where((_, i) => outputs[i] is not null)]);
    }

    /// <summary>Answer canvas length: |response| + EOS, or up to the canvas length when one is set
    /// (then the prompt length is part of the key, so one batch shares one canvas length).</summary>
    private static int GenLength(TaskExample e, ITokenizer tok, int? canvas)
    {
        int answer = tok.Encode(e.Response).Count + 1;
        if (canvas is not int c || e.IsInfill) return answer;
        return Math.Max(answer, c - (tok.Encode(e.Prompt).Count + 1));
    }

    private static (string Text, int Forwards, int Tokens) Fill(IDenoisingModel model, ITokenizer tok, string prompt, EvalOptions s)
    {
        int bos = tok.BosId ?? throw new ArgumentException("the tokenizer has no BOS token");
        InfillCanvas canvas = Infill.Build(Infill.Parse(prompt), t => tok.Encode(t), tok.MaskId, [bos]);
        if (s.CanvasLength is int c && canvas.Tokens.Length < c)
            canvas = new InfillCanvas([.. canvas.Tokens, .. Enumerable.Repeat(tok.EosId, c - canvas.Tokens.Length)]);
        int masks = canvas.Tokens.Count(t => t == tok.MaskId);
        GenerationResult r = new DiffusionSampler(model, tok.MaskId).Fill(canvas, s.ForInfill(masks, tok.EosId));
        int[] filled = [.. Enumerable.Range(0, canvas.Tokens.Length).Where(i => canvas.Tokens[i] == tok.MaskId).Select(i => r.Canvas[i])];
        return (tok.Decode(filled), r.ForwardPasses, masks);
    }

    private static string Text(ITokenizer tok, IReadOnlyList<int> answer) => tok.Decode(GeneratedText.TrimAtEos(answer, tok.EosId, null));
}
