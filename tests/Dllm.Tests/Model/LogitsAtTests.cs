using Dllm.Model;
using Dllm.Tests.Cli;

namespace Dllm.Tests.Model;

/// <summary>Per-sequence logit rows (what batched decoding asks for) equal the same rows of the all-positions call.</summary>
public class LogitsAtTests
{
    [Fact]
    public void TheTransformersRowsEqualTheDefaultUnionPath()
    {
        string dir = TextPromptTests.WriteRandomByteModel();
        using Transformer lm = Transformer.Load(dir);
        const int batch = 2, length = 10, vocab = 262;
        var rng = new Random(3);
        int[] tokens = [.. Enumerable.Range(0, batch * length).Select(_ => rng.Next(256))];
        byte[] keyMask = [.. Enumerable.Range(0, batch * length).Select(i => (byte)(i is 0 or 1 ? 0 : 1))]; // row 0 left-padded by 2
        int[] rows = [7, 3, length + 9, length + 2, 9];
        var fast = new float[rows.Length * vocab];
        lm.LogitsAt(tokens, batch, length, rows, fast, keyMask);
        var viaUnion = new float[rows.Length * vocab];
        ((IDenoisingModel)new UnionOnly(lm)).LogitsAt(tokens, batch, length, rows, viaUnion, keyMask);
        Assert.Equal(viaUnion, fast);
        Assert.Throws<ArgumentException>(() => lm.LogitsAt(tokens, batch, length, [batch * length], fast, keyMask));
    }

    /// <summary>Only Logits: LogitsAt takes the interface's default (union of positions) path.</summary>
    private sealed class UnionOnly(Transformer inner) : IDenoisingModel
    {
        public int VocabSize => inner.VocabSize;
        public int MaxSequenceLength => inner.MaxSequenceLength;
        public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions, Span<float> logits, ReadOnlySpan<byte> keyMask = default)
            => inner.Logits(tokens, batch, length, positions, logits, keyMask);
    }
}
