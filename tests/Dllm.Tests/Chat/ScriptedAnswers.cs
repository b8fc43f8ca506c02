using System.Text;
using Dllm.Model;
using Dllm.Tests.Sampling;
using Dllm.Text;

namespace Dllm.Tests.Chat;

/// <summary>
/// A <see cref="FakeModel"/> over the <see cref="ByteTokenizer"/> vocabulary that "answers" a fixed text:
/// at answer position i (counted from <c>promptLength</c>) it predicts byte i of the text, then EOS.
/// Confidence falls (left to right) or rises (right to left) with i, so the low-confidence ordering commits
/// the answer in a known order.
/// </summary>
internal static class ScriptedAnswers
{
    /// <param name="answer">Text to produce (UTF-8 bytes, one token each), then EOS.</param>
    /// <param name="promptLength">Where the answer starts in the model's view (the prompt length).</param>
    /// <param name="leftToRight">True: the leftmost masked position is the most confident.</param>
    public static FakeModel Model(string answer, Func<int> promptLength, bool leftToRight = true, int maxLength = 4096)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(answer);
        return new FakeModel(new ByteTokenizer().VocabSize, (view, pos, row) =>
        {
            int i = pos - promptLength();
            int token = i >= 0 && i < bytes.Length ? bytes[i] : ByteTokenizer.Eos;
            double p = leftToRight ? 0.99 - 0.0001 * Math.Max(i, 0) : 0.5 + 0.0001 * Math.Max(i, 0);
            Rows.WithProbability(row, token, p);
        }, maxLength);
    }
}

/// <summary>Runs <see cref="OnCall"/> before every forward of the wrapped model (gates, counters, delays).</summary>
internal sealed class HookedModel(IDenoisingModel inner, Action onCall) : IDenoisingModel
{
    public Action OnCall { get; } = onCall;
    public int VocabSize => inner.VocabSize;
    public int MaxSequenceLength => inner.MaxSequenceLength;
    public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        OnCall();
        inner.Logits(tokens, batch, length, positions, logits, keyMask);
    }
}
