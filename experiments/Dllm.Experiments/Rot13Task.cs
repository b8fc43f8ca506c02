namespace Dllm.Experiments;

/// <summary>
/// A long-answer task for the decoding-speed benchmark: the ROT13 of a <c>length</c>-byte passage
/// of English text. Every answer byte is a fixed function of the prompt byte <c>length</c> positions
/// back (letters rotate by 13, everything else is copied), so the answer tokens are conditionally
/// independent given the prompt — the regime in which Fast-dLLM's parallel decoding (commit every
/// confident token at once) is exact in principle, unlike Sudoku, whose cells constrain each other.
/// Prompt and answer have the same length, so the offset between a prompt byte and its answer byte is
/// the same in every example.
/// </summary>
public static class Rot13Task
{
    /// <summary>
    /// Cuts <paramref name="count"/> passages of exactly <paramref name="length"/> bytes from
    /// <paramref name="text"/>, each starting at a random word start (lines joined by spaces), and pairs
    /// each with its ROT13. Kind "rot13".
    /// </summary>
    /// <exception cref="ArgumentException">Non-ASCII text (a byte is then not a character), a bad length or count, or text shorter than a passage.</exception>
    public static List<TaskExample> Generate(string text, int count, int length, int seed)
    {
        if (length < 1 || length > 4096) throw new ArgumentException($"passage length must be in [1, 4096], got {length}");
        if (count < 0) throw new ArgumentException($"count must be non-negative, got {count}");
        string flat = string.Join(' ', text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        int bad = flat.AsSpan().IndexOfAnyExceptInRange((char)32, (char)126);
        if (bad >= 0) throw new ArgumentException($"the text must be printable ASCII (one byte per character); character {bad} is U+{(int)flat[bad]:X4}");
        if (flat.Length < length) throw new ArgumentException($"the text has {flat.Length} characters, fewer than one passage of {length}");
        // Word starts from which a whole passage fits.
        var starts = new List<int>();
        for (int i = 0; i + length <= flat.Length; i++)
            if (i == 0 || flat[i - 1] == ' ') starts.Add(i);
        var rng = new Random(seed);
        var list = new List<TaskExample>(count);
        for (int k = 0; k < count; k++)
        {
            string passage = flat.Substring(starts[rng.Next(starts.Count)], length);
            list.Add(new TaskExample(passage, Rotate(passage), "rot13"));
        }
        return list;
    }

    /// <summary>ROT13: a–z and A–Z move 13 letters on (so applying it twice is the identity); other characters stay.</summary>
    public static string Rotate(string s) => string.Create(s.Length, s, static (dst, src) =>
    {
        for (int i = 0; i < src.Length; i++)
        {
            char c = src[i];
            dst[i] = c is >= 'a' and <= 'z' ? (char)('a' + (c - 'a' + 13) % 26)
                : c is >= 'A' and <= 'Z' ? (char)('A' + (c - 'A' + 13) % 26) : c;
        }
    });
}
