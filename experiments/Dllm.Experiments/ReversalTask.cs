namespace Dllm.Experiments;

/// <summary>
/// The reversal curse (Berglund et al. 2023) in miniature: made-up people "A's parent is B." for
/// random five-letter names (each name in exactly one pair). Half of the pairs are also stated the
/// other way round ("B is the parent of A."), which teaches the reversed phrasing; the other half are
/// stated forward only and are the test pairs. Training examples have an empty prompt and the
/// statement as the response, so both model kinds learn the statements as text (pre-training
/// style: the MDM may mask any part of them). Questions on the forward-only pairs:
/// <list type="bullet">
/// <item>"forward": "A's parent is" → " B." (recall of a trained statement);</item>
/// <item>"reversed": "B is the parent of" → " A." (the reversed question, in the phrasing learned from the other half);</item>
/// <item>"reversed-infill": "[MASK:5]'s parent is B." → "A" (MDM only: fill the name into the trained sentence);</item>
/// </list>
/// and "control-reversed" on pairs seen both ways (memorisation of the reversed phrasing).
/// </summary>
public static class ReversalTask
{
    private const string Consonants = "bdfgklmnprstvz", Vowels = "aeiou";

    /// <summary>Generates <paramref name="pairs"/> pairs (2 × pairs distinct names); returns training examples and questions.</summary>
    /// <exception cref="ArgumentException">Fewer than 2 pairs or more than the name space allows.</exception>
    public static (List<TaskExample> Train, List<TaskExample> Test) Generate(int pairs, int seed)
    {
        if (pairs < 2 || pairs > 20000) throw new ArgumentException($"pairs must be in [2, 20000], got {pairs}");
        var rng = new Random(seed);
        var names = new HashSet<string>();
        while (names.Count < 2 * pairs) names.Add(Name(rng));
        string[] all = [.. names];
        var train = new List<TaskExample>();
        var test = new List<TaskExample>();
        for (int i = 0; i < pairs; i++)
        {
            string child = all[2 * i], parent = all[2 * i + 1];
            bool both = i % 2 == 0;
            train.Add(new TaskExample("", Forward(child, parent), "statement"));
            if (both)
            {
                train.Add(new TaskExample("", Reversed(parent, child), "statement"));
                test.Add(new TaskExample($"{parent} is the parent of", $" {child}.", "control-reversed"));
            }
            else
            {
                test.Add(new TaskExample($"{child}'s parent is", $" {parent}.", "forward"));
                test.Add(new TaskExample($"{parent} is the parent of", $" {child}.", "reversed"));
                test.Add(new TaskExample($"[MASK:{child.Length}]'s parent is {parent}.<|endoftext|>", child, "reversed-infill"));
            }
        }
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(train));
        return (train, test);
    }

    public static string Forward(string child, string parent) => $"{child}'s parent is {parent}.";
    public static string Reversed(string parent, string child) => $"{parent} is the parent of {child}.";

    /// <summary>A pronounceable made-up name: capital consonant, vowel, consonant, vowel, consonant.</summary>
    private static string Name(Random rng)
    {
        char C() => Consonants[rng.Next(Consonants.Length)];
        char V() => Vowels[rng.Next(Vowels.Length)];
        return $"{char.ToUpperInvariant(C())}{V()}{C()}{V()}{C()}";
    }
}
