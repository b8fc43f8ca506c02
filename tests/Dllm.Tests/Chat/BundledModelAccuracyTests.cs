using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;
using Dllm.Training;
using Xunit;

namespace Dllm.Tests.Chat;

/// <summary>
/// The bundled default (models/chat-1m) answers the held-out instructions it was trained for, as the README says
/// (242/267 measured, greedy, 48 positions in blocks of 16): a regression guard on the model file, the chat template,
/// the shifted-logits sampler path and the kernels of whatever CPU runs it.
/// </summary>
public class BundledModelAccuracyTests
{
    [Fact]
    public void The_default_chat_model_answers_at_least_85_percent_of_the_held_out_instructions()
    {
        string dir = TestPaths.BundledModel();
        string data = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(dir))!, "data", "instructions-test.jsonl");
        using Transformer model = Transformer.Load(dir);
        ITokenizer tok = TokenizerLoader.Load(dir);
        List<ExactMatchCase> cases = ExactMatchEvaluator.Load(data);
        var options = new DecodingOptions { GenLength = 48, Steps = 48, BlockLength = 16 };
        List<ExactMatchOutcome> outcomes = ExactMatchEvaluator.Run(model, model.Config.MaskTokenId, tok, cases, options, 32,
            ct: TestContext.Current.CancellationToken);
        int right = outcomes.Count(o => o.Correct);
        Assert.True(right >= 0.85 * cases.Count, $"{right}/{cases.Count} held-out instructions right (README: 242/267)");
        foreach (string task in new[] { "copy", "upper", "reverse", "count", "greet" }) // all right when measured
        {
            var mine = outcomes.Where(o => o.Case.Task == task).ToList();
            Assert.True(mine.Count(o => o.Correct) >= 0.9 * mine.Count, $"{task}: {mine.Count(o => o.Correct)}/{mine.Count} right");
        }
    }
}
