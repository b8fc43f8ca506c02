using Dllm.Cli;
using Dllm.Sampling;
using Dllm.Text;

namespace Dllm.Tests.Cli;

/// <summary>The live view's rendering of one step, and where --model points when it is left out.</summary>
public class ChatCanvasViewTests
{
    private static readonly ByteTokenizer Tok = new();

    [Fact]
    public void MasksArePlaceholdersNewTokensAreColouredByConfidenceAndEosIsDim()
    {
        const int M = ByteTokenizer.Mask, E = ByteTokenizer.Eos;
        // prompt "p", then answer: "a" (old), "b" (new, 0.95), "c" (new, 0.6), "d" (new, 0.1), mask, mask, EOS (new), EOS (old)
        int[] canvas = ['p', 'a', 'b', 'c', 'd', M, M, E, E];
        var step = new DenoisingStep(2, 0, 2, 1, M, canvas, [2, 3, 4, 7], [0.95, 0.6, 0.1, 0.99]);
        string markup = ChatCanvasView.Render(step, Tok, E, ByteTokenizer.EndOfTurn, totalSteps: 8);
        Assert.StartsWith("a[bold green]b[/][bold yellow]c[/][bold red]d[/][grey]░░[/][bold green]·[/][grey35]·[/]", markup);
        Assert.Contains("step 3/8 · block 1 · 2 masked", markup);
        Assert.DoesNotContain("p", markup.Split('\n')[0]); // the prompt is not part of the answer view
    }

    [Fact]
    public void MarkupCharactersInTheAnswerAreEscaped()
    {
        int[] canvas = ['[', 'x', ']'];
        var step = new DenoisingStep(0, 0, 0, 0, ByteTokenizer.Mask, canvas, [], []);
        Assert.StartsWith("[[x]]", ChatCanvasView.Render(step, Tok, ByteTokenizer.Eos, null, 1));
    }

    [Fact]
    public void WithoutModelFlagTheBundledChatModelIsUsedAndAMissingDirectoryIsNamed()
    {
        string found = ModelOption.Resolve(null);
        Assert.EndsWith(Path.Combine("models", "chat-1m"), found);
        Assert.True(File.Exists(Path.Combine(found, "model.safetensors")));
        var e = Assert.Throws<DirectoryNotFoundException>(() => ModelOption.Resolve(new DirectoryInfo("/no/such/model")));
        Assert.Contains("'/no/such/model' does not exist", e.Message);
    }
}
