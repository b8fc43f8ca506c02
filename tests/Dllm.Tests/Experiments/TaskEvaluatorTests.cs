using Dllm.Experiments;
using Dllm.Training;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;

namespace Dllm.Tests.Experiments;

/// <summary>The evaluator scores exact answers per kind, for both model kinds and for infilling questions.</summary>
public class TaskEvaluatorTests
{
    private static readonly ByteTokenizer Tok = new();

    /// <summary>
    /// Knows a full text per prompt (prompt + answer + EOS, as encoded) and puts all its mass on it:
    /// as a causal model it predicts token p+1 at position p, as a mask predictor token p. Canvases are
    /// matched by their unpadded prefix, so it works under left padding.
    /// </summary>
    private sealed class Oracle(IReadOnlyList<int[]> texts, bool causal) : IDenoisingModel
    {
        public int VocabSize => Tok.VocabSize;
        public int MaxSequenceLength => 128;
        public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
        {
            logits.Clear();
            for (int b = 0; b < batch; b++)
            {
                int offset = 0;
                while (!keyMask.IsEmpty && keyMask[b * length + offset] == 0) offset++;
                int[] row = tokens.Slice(b * length + offset, length - offset).ToArray();
                // The text whose tokens agree with every unmasked canvas position.
                // (Past its end a text reads as EOS padding.)
                int[] text = texts.First(t => row.Select((x, i) => x == ByteTokenizer.Mask || x == (i < t.Length ? t[i] : ByteTokenizer.Eos)).All(ok => ok));
                for (int i = 0; i < positions.Length; i++)
                {
                    int p = positions[i] - offset + (causal ? 1 : 0);
                    logits[(b * positions.Length + i) * VocabSize + (p < text.Length ? text[p] : ByteTokenizer.Eos)] = 5;
                }
            }
        }
    }

    private static readonly TaskExample[] Items =
    [
        new("2+2=", "4", "sum"), new("3+4=", "7", "sum"), new("9*9=", "81", "product"), new("7*6=", "42", "product"),
    ];

    /// <summary>What the oracle "believes": right for 2+2, 9*9 and 7*6, wrong for 3+4.</summary>
    private static int[][] Beliefs(bool infill = false) =>
    [
        .. Items.Select(e => e.Prompt == "3+4=" ? e with { Response = "8" } : e)
            .Select(e => { var (p, a) = e.Encode(Tok); return (int[])[.. p, .. a]; }),
    ];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Exact_match_accuracy_per_kind(bool autoregressive)
    {
        EvalReport r = TaskEvaluator.Evaluate(new Oracle(Beliefs(), autoregressive), autoregressive, Tok, Items, new EvalOptions { BatchSize = 3 });
        Assert.Equal(1, r.Kind("sum")!.Correct);
        Assert.Equal(2, r.Kind("sum")!.Total);
        Assert.Equal(2, r.Kind("product")!.Correct);
        Assert.Equal(0.75, r.Accuracy);
        Assert.Equal("8", r.Outputs.Single(o => o.Item.Prompt == "3+4=").Output);
        Assert.Equal(autoregressive ? 2 + 2 + 3 + 3 : 10, r.AnswerTokens);
    }

    [Fact]
    public void Infilling_questions_are_scored_for_the_mdm_and_skipped_for_ar()
    {
        var items = new[] { new TaskExample("[MASK:2]'s parent is Bo.", "Al", "infill"), new TaskExample("Al's parent is", " Bo.", "forward") };
        int[][] texts = [[ByteTokenizer.Bos, .. Tok.Encode("Al's parent is Bo.")], [ByteTokenizer.Bos, .. Tok.Encode("Al's parent is"), .. Tok.Encode(" Bo."), ByteTokenizer.Eos]];
        EvalReport mdm = TaskEvaluator.Evaluate(new Oracle(texts, false), false, Tok, items, new EvalOptions());
        Assert.Equal(1, mdm.Kind("infill")!.Correct);
        Assert.Equal(1, mdm.Kind("forward")!.Correct);
        EvalReport ar = TaskEvaluator.Evaluate(new Oracle(texts, true), true, Tok, items, new EvalOptions());
        Assert.Equal(0, ar.Kind("infill")!.Total);
        Assert.True(double.IsNaN(ar.Kind("infill")!.Accuracy));
        Assert.Equal(1, ar.Kind("forward")!.Correct);
    }

    [Fact]
    public void A_canvas_length_pads_mdm_canvases_with_eos_and_keeps_the_scores()
    {
        var plain = TaskEvaluator.Evaluate(new Oracle(Beliefs(), false), false, Tok, Items, new EvalOptions());
        var padded = TaskEvaluator.Evaluate(new Oracle(Beliefs(), false), false, Tok, Items, new EvalOptions { CanvasLength = 12 });
        Assert.Equal(plain.Accuracy, padded.Accuracy);
        Assert.Equal(4 * (12 - 5), padded.AnswerTokens); // every prompt is BOS + 4 bytes: 7 answer positions each
    }

    [Fact]
    public void Fewer_steps_per_token_means_fewer_forwards()
    {
        var full = TaskEvaluator.Evaluate(new Oracle(Beliefs(), false), false, Tok, Items, new EvalOptions());
        var half = TaskEvaluator.Evaluate(new Oracle(Beliefs(), false), false, Tok, Items, new EvalOptions { StepsPerToken = 0.5 });
        Assert.Equal(1.0, full.ForwardsPerToken);
        Assert.True(half.ForwardsPerToken <= 0.75, $"{half.ForwardsPerToken}");
        Assert.Equal(full.Accuracy, half.Accuracy); // a certain oracle loses nothing by committing two at a time
    }

    [Fact]
    public void Bad_settings_and_files_give_clear_errors()
    {
        Assert.Contains("steps per token", Assert.Throws<ArgumentException>(() => TaskEvaluator.Evaluate(new Oracle(Beliefs(), false), false, Tok, Items, new EvalOptions { StepsPerToken = 2 })).Message);
        var e = Assert.Throws<DecodingOptionException>(() => new EvalOptions { Decoding = new() { BlockLength = 3 } }.ForAnswer(5, ByteTokenizer.Eos));
        Assert.Contains("does not divide", e.Message);
        Assert.Equal("block_length", e.Knob);
        string bad = Path.Combine(TestPaths.TempDir(), "bad.jsonl");
        File.WriteAllText(bad, "{\"prompt\": \"x\"}\n");
        Assert.Contains("bad.jsonl:1: missing string field \"response\"", Assert.Throws<InvalidDataException>(() => TaskExample.ReadJsonl(bad)).Message);
    }

    [Fact]
    public void Each_question_sets_the_lengths_and_the_other_knobs_apply_as_given()
    {
        var settings = new EvalOptions { StepsPerToken = 0.5, Decoding = new() { BlockLength = 4, Commit = CommitRule.Threshold, Threshold = 0.8, Ordering = OrderingRule.TopKMargin, MaxTokens = 3 } };
        DecodingOptions answer = settings.ForAnswer(8, ByteTokenizer.Eos);
        Assert.Equal((8, 4, 4, (int?)null, ByteTokenizer.Eos), (answer.GenLength, answer.BlockLength!.Value, answer.Steps, answer.MaxTokens, answer.EosId!.Value));
        Assert.Equal((CommitRule.Threshold, 0.8, OrderingRule.TopKMargin), (answer.Commit, answer.Threshold, answer.Ordering));
        Assert.Equal(3, settings.ForAnswer(3, ByteTokenizer.Eos).BlockLength); // a block longer than the answer is one block
        DecodingOptions infill = settings.ForInfill(masks: 6, ByteTokenizer.Eos);
        Assert.Equal((null, 3), (infill.BlockLength, infill.Steps)); // the masks are one block
        infill.Validate();
        Assert.Equal("steps/token 0.5, block 4, topk_margin ordering, threshold 0.8", settings.Label);
        Assert.Equal("steps/token 1, one block", new EvalOptions().Label);
    }

    [Fact]
    public void Jsonl_round_trips()
    {
        string path = Path.Combine(TestPaths.TempDir(), "x.jsonl");
        TaskExample[] items = [.. Items, new("[MASK:3]'s \"q\"", "a<b", "")];
        TaskExample.WriteJsonl(path, items);
        Assert.Equal(items, TaskExample.ReadJsonl(path));
    }
}
