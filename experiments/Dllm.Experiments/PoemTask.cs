namespace Dllm.Experiments;

/// <summary>
/// LLaDA's poem reversal test in miniature (arXiv 2502.09992 §4: "given a line, produce the previous
/// line vs the next line"), on synthetic poems so that the training data are known exactly: each poem
/// has four distinct lines of three words from a small vocabulary. Every poem is learned as text
/// (empty prompt, the lines joined by newlines). For half of the poems the two question formats are
/// also trained — <c>next: L_k</c> → <c>L_{k+1}</c> and <c>prev: L_{k+1}</c> → <c>L_k</c> — which
/// teaches what the questions mean; the other half are the test poems, asked
/// <list type="bullet">
/// <item>"next": <c>next: L_k</c> → <c>L_{k+1}</c> (the reading direction);</item>
/// <item>"prev": <c>prev: L_{k+1}</c> → <c>L_k</c> (the reverse direction);</item>
/// <item>"prev-infill" (MDM only): the poem with its first line masked → the first line.</item>
/// </list>
/// </summary>
public static class PoemTask
{
    private static readonly string[] Words =
    [
        "moon", "river", "stone", "wind", "snow", "pine", "crow", "lamp", "gate", "bell", "rain", "hill",
        "boat", "mist", "reed", "frost", "dawn", "dusk", "smoke", "ash", "cold", "old", "pale", "deep",
        "slow", "far", "red", "thin", "lone", "high", "falls", "sleeps", "burns", "drifts", "waits", "sings",
    ];

    /// <summary>Generates <paramref name="poems"/> poems (an even number ≥ 2); returns training examples and questions.</summary>
    /// <exception cref="ArgumentException">A poem count that is odd, below 2 or above 2000.</exception>
    public static (List<TaskExample> Train, List<TaskExample> Test) Generate(int poems, int seed)
    {
        if (poems < 2 || poems > 2000 || poems % 2 != 0) throw new ArgumentException($"poems must be an even number in [2, 2000], got {poems}");
        var rng = new Random(seed);
        var lines = new HashSet<string>();
        while (lines.Count < 4 * poems) lines.Add($"{Word(rng)} {Word(rng)} {Word(rng)}");
        string[] all = [.. lines];
        var train = new List<TaskExample>();
        var test = new List<TaskExample>();
        for (int p = 0; p < poems; p++)
        {
            string[] poem = all[(4 * p)..(4 * p + 4)];
            string text = string.Join('\n', poem);
            train.Add(new TaskExample("", text, "poem"));
            bool taught = p % 2 == 0;
            for (int k = 0; k < 3; k++)
            {
                var next = new TaskExample($"next: {poem[k]}\n", poem[k + 1], taught ? "format" : "next");
                var prev = new TaskExample($"prev: {poem[k + 1]}\n", poem[k], taught ? "format" : "prev");
                (taught ? train : test).Add(next);
                (taught ? train : test).Add(prev);
            }
            if (!taught)
                test.Add(new TaskExample($"[MASK:{poem[0].Length}]\n{string.Join('\n', poem[1..])}<|endoftext|>", poem[0], "prev-infill"));
        }
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(train));
        return (train, test);
    }

    private static string Word(Random rng) => Words[rng.Next(Words.Length)];
}
