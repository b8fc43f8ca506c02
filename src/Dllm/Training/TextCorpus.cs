using System.Text;
using System.Text.Json;
using Dllm.IO;
using Dllm.Text;

namespace Dllm.Training;

/// <summary>
/// A tokenized training text and a seeded sampler of fixed-length windows. The batch of step s is
/// drawn from a generator seeded by (seed, s) alone, so a resumed run sees exactly the batches an
/// uninterrupted run would.
/// </summary>
public sealed class TextCorpus
{
    public int[] Tokens { get; }

    public TextCorpus(int[] tokens) => Tokens = tokens;

    /// <summary>
    /// Reads and encodes UTF-8 files: plain text as is; <c>*.jsonl</c> as one <c>{"text": "..."}</c>
    /// document per line (blank lines skipped, other fields ignored), each document followed by EOS
    /// so that windows crossing a document boundary see where one ends, as in LLaDA's packed
    /// pre-training data.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is empty or has no documents, a JSONL line is not an
    /// object with a string "text" (the message names file:line), or all the data is shorter than one window.</exception>
    public static TextCorpus Load(IEnumerable<string> paths, ITokenizer tokenizer, int minTokens)
    {
        var all = new List<int>();
        foreach (var (text, isJsonlDocument) in Documents(paths))
        {
            all.AddRange(tokenizer.Encode(text));
            if (isJsonlDocument) all.Add(tokenizer.EosId); // each JSONL document ends; a text file is one stream
        }
        if (all.Count < minTokens)
            throw new InvalidDataException($"the data has {all.Count} tokens, fewer than one training sequence of {minTokens}: lower --seq-len or add text");
        return new TextCorpus([.. all]);
    }

    /// <summary>
    /// The documents of the files <see cref="Load"/> reads, as text: a plain file is one document, a
    /// <c>*.jsonl</c> file one per line (blank lines skipped). Used to build a vocabulary from the training data.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is empty, not text or has no documents, or a JSONL line is not an
    /// object with a string "text" (the message names file:line).</exception>
    public static IEnumerable<string> ReadTexts(IEnumerable<string> paths) => Documents(paths).Select(d => d.Text);

    /// <summary>The one walk over data files both readers share: each file checked (exists, has content, is
    /// text), a plain file yielded whole, a <c>*.jsonl</c> file one "text" field per line.</summary>
    private static IEnumerable<(string Text, bool IsJsonlDocument)> Documents(IEnumerable<string> paths)
    {
        foreach (string path in paths)
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"data file '{path}' does not exist", path);
            InputFile.Require(path, "data file");
            if (path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
            {
                int documents = 0;
                foreach (var (e, where) in JsonLines.Objects(path))
                {
                    documents++;
                    yield return (JsonLines.OptionalString(e, "text", where)
                        ?? throw new InvalidDataException($"{where}: expected an object with a string field \"text\""), true);
                }
                if (documents == 0) throw new InvalidDataException($"data file '{path}' has no documents (only blank lines)");
            }
            else
            {
                byte[] bytes = File.ReadAllBytes(path);
                TextFileCheck.Require(bytes, path, tolerate: true);
                yield return (Encoding.UTF8.GetString(bytes), false);
            }
        }
    }

    /// <summary>[batch × length] windows at random offsets for step <paramref name="step"/>.</summary>
    public int[] Batch(int batch, int length, int seed, long step)
    {
        var rng = StepRandom(seed, step);
        var tokens = new int[batch * length];
        for (int b = 0; b < batch; b++)
            Tokens.AsSpan(rng.Next(0, Tokens.Length - length + 1), length).CopyTo(tokens.AsSpan(b * length));
        return tokens;
    }

    /// <summary>Chunk i of n chunks of <paramref name="length"/> tokens spaced evenly from the start to the
    /// end of the corpus (the held-out chunks that <c>dllm eval</c> scores).</summary>
    public ReadOnlySpan<int> EvenChunk(int i, int n, int length)
        => Tokens.AsSpan((int)((long)(Tokens.Length - length) * i / Math.Max(1, n - 1)), length);

    /// <summary>The generator for step s: depends on (seed, s) only (HashCode is per-process random, so a fixed mix).</summary>
    public static Random StepRandom(int seed, long step)
    {
        ulong h = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)step * 0xC2B2AE3D27D4EB4FUL);
        h ^= h >> 31;
        return new Random(unchecked((int)h & int.MaxValue));
    }
}
