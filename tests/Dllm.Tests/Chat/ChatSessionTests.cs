using System.Text;
using Dllm.Chat;
using Dllm.Tests.Sampling;
using Dllm.Text;

namespace Dllm.Tests.Chat;

/// <summary>Multi-turn history over a scripted model: what the model sees each turn, cancellation, context trimming.</summary>
public class ChatSessionTests
{
    private static readonly ByteTokenizer Tok = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// A model that answers the numbered reply "r1", "r2", ... (the turn number is the count of user headers in
    /// its view) then EOS, and records the prompt of every forward: the view up to the answer start, which is
    /// right after the last assistant header (its end-header token and "\n\n").
    /// </summary>
    private static (FakeModel Model, List<int[]> Prompts) Model(int maxLength = 4096)
    {
        var prompts = new List<int[]>();
        var model = new FakeModel(Tok.VocabSize, (view, pos, row) =>
        {
            int start = Array.LastIndexOf(view, ByteTokenizer.EndHeader) + 3;
            if (pos == start) prompts.Add(view[..start]);
            int turns = Tok.Decode(view[..start]).Split(LladaTokens.StartHeader + "user").Length - 1;
            byte[] reply = Encoding.UTF8.GetBytes($"r{turns}");
            int i = pos - start;
            Rows.WithProbability(row, i >= 0 && i < reply.Length ? reply[i] : ByteTokenizer.Eos, 0.99 - 0.001 * Math.Max(i, 0));
        }, maxLength);
        return (model, prompts);
    }

    private static ChatSession Session(FakeModel model)
        => new(new CompletionEngine(model, Tok, ByteTokenizer.Mask, ByteTokenizer.Eos), new DecodingKnobs { GenLength = 8, Steps = 8 });

    [Fact]
    public void EachTurnSeesTheWholeHistoryWithAnswersAsTextAndNoEosPadding()
    {
        var (model, prompts) = Model();
        ChatSession chat = Session(model);
        Assert.Equal("r1", chat.Ask("first", cancellationToken: Ct).Completion.Text);
        prompts.Clear();
        Assert.Equal("r2", chat.Ask("second", cancellationToken: Ct).Completion.Text);

        ChatMessage[] expected = [new("user", "first"), new("assistant", "r1"), new("user", "second")];
        Assert.Equal(ChatTemplate.Apply(Tok, expected), prompts[0]);
        Assert.DoesNotContain(ByteTokenizer.Eos, prompts[0]); // the 8-token canvas of turn 1 was EOS-padded
        Assert.Equal([.. expected, new ChatMessage("assistant", "r2")], chat.History);
    }

    [Fact]
    public void ACancelledTurnLeavesTheHistoryUnchanged()
    {
        var (model, _) = Model();
        ChatSession chat = Session(model);
        chat.Ask("first", cancellationToken: Ct);
        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => chat.Ask("second", _ => cts.Cancel(), cts.Token));
        Assert.Equal(2, chat.History.Count);
        Assert.Equal("r2", chat.Ask("again", cancellationToken: Ct).Completion.Text); // still turn 2 for the model
    }

    [Fact]
    public void OldestTurnsAreDroppedWhenTheContextIsFull()
    {
        // One turn is BOS + 2 headers + "first"/"r1" etc.: about 30 tokens; a 64-token context with an
        // 8-token canvas holds two turns' history, not three.
        var (model, prompts) = Model(maxLength: 64);
        ChatSession chat = Session(model);
        Assert.Equal(0, chat.Ask("one", cancellationToken: Ct).DroppedMessages);
        ChatTurn second = chat.Ask("two", cancellationToken: Ct);
        ChatTurn third = chat.Ask("three", cancellationToken: Ct);
        Assert.Equal(0, second.DroppedMessages);
        Assert.Equal(2, third.DroppedMessages);
        Assert.Equal(["two", "r2", "three"], chat.History.Take(3).Select(m => m.Content));
        Assert.True(prompts[^1].Length + 8 <= 64);
    }

    [Fact]
    public void AMessageLongerThanTheContextIsAClearErrorAndResetForgets()
    {
        var (model, _) = Model(maxLength: 64);
        ChatSession chat = Session(model);
        chat.Ask("one", cancellationToken: Ct);
        var e = Assert.Throws<InvalidRequestException>(() => chat.Ask(new string('x', 100), cancellationToken: Ct));
        Assert.Equal("context_length_exceeded", e.Code);
        Assert.Equal(2, chat.History.Count);
        chat.Reset();
        Assert.Empty(chat.History);
        Assert.Equal("r1", chat.Ask("one", cancellationToken: Ct).Completion.Text);
    }
}
