using System.Text;
using Dllm.Chat;
using Dllm.Text;

namespace Dllm.Tests.Chat;

/// <summary>The streaming tracker: only the mask-free prefix is final; UTF-8 and stops handled.</summary>
public class CommittedTextTests
{
    private const int M = ByteTokenizer.Mask, E = ByteTokenizer.Eos;
    private static CommittedText Tracker(int cap = 100) => new(new ByteTokenizer(), M, E, ByteTokenizer.EndOfTurn, cap);
    private static int[] Bytes(string s) => [.. Encoding.UTF8.GetBytes(s).Select(b => (int)b)];

    [Fact]
    public void OnlyTheTextBeforeTheFirstMaskIsEmitted()
    {
        CommittedText t = Tracker();
        Assert.Equal("", t.Advance([M, 'b', M, M]));   // 'b' is committed but not final: 'a' is still masked
        Assert.Equal("ab", t.Advance(['a', 'b', M, 'd']));
        Assert.Equal("", t.Advance(['a', 'b', M, 'd']));
        Assert.False(t.IsComplete);
        Assert.Equal("cd", t.Advance(['a', 'b', 'c', 'd']));
        Assert.True(t.IsComplete);                       // the canvas end
        Assert.Equal("abcd", t.Emitted);
    }

    [Fact]
    public void TheAnswerEndsAtEosOrEndOfTurnAndNothingAfterIsEmitted()
    {
        CommittedText t = Tracker();
        Assert.Equal("hi", t.Advance(['h', 'i', ByteTokenizer.EndOfTurn, M, 'x']));
        Assert.True(t.IsComplete);
        Assert.Equal("", t.Advance(['h', 'i', ByteTokenizer.EndOfTurn, 'y', 'x']));
        CommittedText u = Tracker();
        Assert.Equal("a", u.Advance(['a', E, E]));
        Assert.True(u.IsComplete);
    }

    [Fact]
    public void TheCapEndsTheAnswer()
    {
        CommittedText t = Tracker(cap: 2);
        Assert.Equal("ab", t.Advance(['a', 'b', M]));
        Assert.True(t.IsComplete);
    }

    [Fact]
    public void AMultiByteCharacterIsHeldBackUntilItsLastByteIsFinal()
    {
        int[] euro = Bytes("€"); // E2 82 AC
        CommittedText t = Tracker();
        Assert.Equal("a", t.Advance(['a', euro[0], M, M, M]));
        Assert.Equal("", t.Advance(['a', euro[0], euro[1], M, M]));
        Assert.Equal("€", t.Advance(['a', euro[0], euro[1], euro[2], M]));
        Assert.Equal("!", t.Advance(['a', euro[0], euro[1], euro[2], '!']));
        Assert.Equal("a€!", t.Emitted);
    }

    [Fact]
    public void AnInvalidByteIsReleasedWhenTextFollowsOrTheAnswerEnds()
    {
        CommittedText t = Tracker();
        Assert.Equal("a", t.Advance(['a', 0xFF, M]));
        Assert.Equal("\uFFFDb", t.Advance(['a', 0xFF, 'b', M]));
        CommittedText u = Tracker();
        Assert.Equal("a", u.Advance(['a', 0xE2, M]));
        Assert.Equal("\uFFFD", u.Advance(['a', 0xE2, E])); // a cut character at the very end stays U+FFFD
    }

    [Fact]
    public void FinishEmitsTheRemainderOfTheFinalText()
    {
        CommittedText t = Tracker();
        Assert.Equal("ab", t.Advance(['a', 'b', M]));
        Assert.Equal("c", t.Finish("abc"));
        Assert.Equal("", t.Finish("abc"));
        Assert.Equal("", Tracker().Finish(""));
    }
}
