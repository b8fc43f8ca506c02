using Dllm.Text;

namespace Dllm.Experiments;

/// <summary>
/// A seq2seq task every family can learn in minutes (DiffuSeq's setting in miniature): "reverse A B C" → "C B A"
/// over made-up names, each one token of a word-level vocabulary. Every example has the same shape (prompt
/// BOS + 4 tokens, answer 3 tokens + EOS), so SFT batches need no padding and text windows of one example's
/// length hold exactly one example's worth of tokens. The held-out triples are combinations never trained
/// (every name is seen in training, in other triples).
/// </summary>
public static class WordReversalTask
{
    private const string Consonants = "bdfgklmnprstvz", Vowels = "aeiou";

    /// <summary>Tokens of one encoded example: BOS, "reverse", three names, three names, EOS.</summary>
    public const int ExampleTokens = 9;

    /// <summary>Draws <paramref name="names"/> distinct names, shuffles every ordered triple of distinct names, and
    /// returns the first <paramref name="testCount"/> as held-out questions (kind "reverse") and the next
    /// <paramref name="trainCount"/> as training pairs (kind "train"); a name no training triple holds is avoided
    /// by drawing again.</summary>
    /// <exception cref="ArgumentException">Fewer than 4 names, or more examples than triples.</exception>
    public static (List<TaskExample> Train, List<TaskExample> Test) Generate(int names, int trainCount, int testCount, int seed)
    {
        if (names < 4 || names > 200) throw new ArgumentException($"names must be in [4, 200], got {names}");
        long triples = (long)names * (names - 1) * (names - 2);
        if (trainCount < 1 || testCount < 1 || trainCount + testCount > triples)
            throw new ArgumentException($"{trainCount} training + {testCount} held-out examples do not fit in the {triples} triples of {names} names");
        var rng = new Random(seed);
        var set = new HashSet<string>();
        while (set.Count < names) set.Add(Name(rng));
        string[] all = [.. set];
        for (int attempt = 0; ; attempt++)
        {
            var order = new List<(int, int, int)>();
            for (int a = 0; a < names; a++)
                for (int b = 0; b < names; b++)
                    for (int c = 0; c < names; c++)
                        if (a != b && b != c && a != c) order.Add((a, b, c));
            rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(order));
            List<TaskExample> Take(int skip, int count, string kind) => [.. order.Skip(skip).Take(count).Select(t =>
                new TaskExample($"reverse {all[t.Item1]} {all[t.Item2]} {all[t.Item3]}", $"{all[t.Item3]} {all[t.Item2]} {all[t.Item1]}", kind))];
            List<TaskExample> test = Take(0, testCount, "reverse"), train = Take(testCount, trainCount, "train");
            var seen = train.SelectMany(e => e.Response.Split(' ')).ToHashSet();
            if (seen.Count == names || attempt == 20) return (train, test);
        }
    }

    /// <summary>The word-level vocabulary of the training pairs: "reverse" and every name one token.</summary>
    public static WordLevelTokenizer Tokenizer(IEnumerable<TaskExample> train) => WordLevelTokenizer.Build(train.Select(e => e.Prompt + " " + e.Response));

    private static string Name(Random rng)
    {
        char C() => Consonants[rng.Next(Consonants.Length)];
        char V() => Vowels[rng.Next(Vowels.Length)];
        return $"{char.ToUpperInvariant(C())}{V()}{C()}{V()}{C()}";
    }
}
