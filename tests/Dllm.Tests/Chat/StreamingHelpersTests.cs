using Dllm.Chat;
using Dllm.Sampling;
using Dllm.Text;

namespace Dllm.Tests.Chat;

/// <summary>StopSequences (OpenAI stop, streamed without leaking a stop prefix) and CanvasView (live frames).</summary>
public class StreamingHelpersTests
{
    [Fact]
    public void StopCutsAtTheEarliestStopString()
    {
        var s = new StopSequences(["\n\n", "END", ""]);
        Assert.Equal(("abc", true), s.Cut("abcEND\n\nx"));
        Assert.Equal(("a", true), s.Cut("a\n\nEND"));
        Assert.Equal(("no stop", false), s.Cut("no stop"));
        Assert.Equal(("x", false), new StopSequences([]).Cut("x"));
    }

    [Fact]
    public void StreamingNeverSendsAPrefixOfAStopThatThenCompletes()
    {
        var s = new StopSequences(["STOP"]);
        string sent = s.Feed("Hello ST") + s.Feed("O") + s.Feed("P and more");
        Assert.Equal("Hello ", sent);
        Assert.True(s.Stopped);
        Assert.Equal("", s.Feed("later"));
        Assert.Equal("", s.Flush());
    }

    [Fact]
    public void StreamingReleasesAHeldPrefixThatTurnsOutNotToBeAStop()
    {
        var s = new StopSequences(["STOP"]);
        Assert.Equal("a", s.Feed("a ST"));  // " ST" might begin "STOP": held (the last len("STOP") - 1 chars)
        Assert.Equal(" ST", s.Feed("ORY"));  // " STORY" has no stop: all but the last 3 chars go out
        Assert.Equal("ORY", s.Flush());      // the end of the stream releases the rest
        Assert.False(s.Stopped);
    }

    [Fact]
    public void CanvasViewRemembersCommitConfidencesAndShowsMasksAsNull()
    {
        const int M = ByteTokenizer.Mask;
        var view = new CanvasView(new ByteTokenizer(), M);
        // Prompt of 2, answer of 3.
        CanvasFrame f1 = view.Update(new DenoisingStep(0, 0, 0, 2, M, [1, 2, M, 'b', M], [3], [0.75]));
        Assert.Equal(["", "b", ""], f1.Tokens);
        Assert.Equal([null, 0.75, null], f1.Confidence);
        Assert.Equal([1], f1.Committed);
        CanvasFrame f2 = view.Update(new DenoisingStep(1, 0, 1, 2, M, [1, 2, 'a', 'b', ByteTokenizer.Eos], [2, 4], [0.5, 0.25]));
        Assert.Equal(["a", "b", "<|endoftext|>"], f2.Tokens);
        Assert.Equal([0.5, 0.75, 0.25], f2.Confidence); // b keeps the score it was committed with
        CanvasFrame f3 = view.Update(new DenoisingStep(2, 0, 2, 2, M, [1, 2, M, 'b', ByteTokenizer.Eos], [], []) { RemaskedPositions = [2] });
        Assert.Equal([null, 0.75, 0.25], f3.Confidence);
        Assert.Throws<ArgumentException>(() => view.Update(new DenoisingStep(3, 0, 3, 2, M, [], [], [])));
    }
}
