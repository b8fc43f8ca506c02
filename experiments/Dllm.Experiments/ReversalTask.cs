using Dllm.Text;

namespace Dllm.Experiments;

/// <summary>
/// The reversal curse as Berglund et al. (2023) ran it, in miniature: made-up people, each name one
/// token of a word-level vocabulary built from the statements (<see cref="Tokenizer"/>), one
/// relation in two layouts, child-first "A is the child of B" and parent-first "B is the parent of A".
/// A third of the pairs is stated in both layouts, a third child-first only, a third parent-first
/// only, so both layouts are trained. Training examples have an empty prompt and the statement as
/// the response (pre-training style: the MDM may mask any part). Questions are prefixes of the
/// trained layouts:
/// <list type="bullet">
/// <item>"forward": a one-layout pair asked in its own layout (recall of a trained statement);</item>
/// <item>"reversed": a one-layout pair asked in the other layout (never stated so for that pair);</item>
/// <item>"reversed-infill": the trained statement with its first name masked (MDM only);</item>
/// <item>"control": the pairs stated both ways, asked in both layouts (memorisation).</item>
/// </list>
/// </summary>
public static class ReversalTask
{
    private const string Consonants = "bdfgklmnprstvz", Vowels = "aeiou";

    /// <summary>Generates <paramref name="pairs"/> pairs (2 × pairs distinct names); returns training statements and questions.</summary>
    /// <exception cref="ArgumentException">Fewer than 3 pairs or more than the name space allows.</exception>
    public static (List<TaskExample> Train, List<TaskExample> Test) Generate(int pairs, int seed)
    {
        if (pairs < 3 || pairs > 20000) throw new ArgumentException($"pairs must be in [3, 20000], got {pairs}");
        var rng = new Random(seed);
        var names = new HashSet<string>();
        while (names.Count < 2 * pairs) names.Add(Name(rng));
        string[] all = [.. names];
        var train = new List<TaskExample>();
        var test = new List<TaskExample>();
        for (int i = 0; i < pairs; i++)
        {
            string child = all[2 * i], parent = all[2 * i + 1];
            var childFirst = new TaskExample(ChildFirst(child, ""), parent);
            var parentFirst = new TaskExample(ParentFirst(parent, ""), child);
            switch (i % 3)
            {
                case 0:
                    train.Add(Statement(childFirst));
                    train.Add(Statement(parentFirst));
                    test.Add(childFirst with { Kind = "control" });
                    test.Add(parentFirst with { Kind = "control" });
                    break;
                case 1:
                    train.Add(Statement(childFirst));
                    test.Add(childFirst with { Kind = "forward" });
                    test.Add(parentFirst with { Kind = "reversed" });
                    test.Add(new TaskExample($"[MASK:1] {ChildFirst("", parent)}<|endoftext|>", child, "reversed-infill"));
                    break;
                default:
                    train.Add(Statement(parentFirst));
                    test.Add(parentFirst with { Kind = "forward" });
                    test.Add(childFirst with { Kind = "reversed" });
                    test.Add(new TaskExample($"[MASK:1] {ParentFirst("", child)}<|endoftext|>", parent, "reversed-infill"));
                    break;
            }
        }
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(train));
        return (train, test);
    }

    /// <summary>The word-level vocabulary of the statements: every name and relation word one token.</summary>
    public static WordLevelTokenizer Tokenizer(IEnumerable<TaskExample> train) => WordLevelTokenizer.Build(train.Select(e => e.Response));

    /// <summary>"A is the child of B" (a layout's text; an empty name leaves its slot out).</summary>
    public static string ChildFirst(string child, string parent) => Join(child, "is the child of", parent);

    /// <summary>"B is the parent of A".</summary>
    public static string ParentFirst(string parent, string child) => Join(parent, "is the parent of", child);

    private static string Join(string a, string relation, string b) => string.Join(' ', new[] { a, relation, b }.Where(s => s.Length > 0));

    private static TaskExample Statement(TaskExample question) => new("", $"{question.Prompt} {question.Response}", "statement");

    /// <summary>A pronounceable made-up name: capital consonant, vowel, consonant, vowel, consonant.</summary>
    private static string Name(Random rng)
    {
        char C() => Consonants[rng.Next(Consonants.Length)];
        char V() => Vowels[rng.Next(Vowels.Length)];
        return $"{char.ToUpperInvariant(C())}{V()}{C()}{V()}{C()}";
    }
}
