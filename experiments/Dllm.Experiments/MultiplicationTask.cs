using System.Globalization;
using System.Numerics;

namespace Dllm.Experiments;

/// <summary>
/// Multi-digit multiplication, answered directly or after a chain of thought (the arithmetic task of
/// Diffusion-of-Thought, Ye et al. 2024). Both factors have n digits; kind "NxN". Prompt "37*46=";
/// the direct response is the product ("1702"); the chain-of-thought response lists the partial
/// products of the first factor by each digit of the second, least significant first and shifted,
/// then their sum: "222+1480=1702" (for one-digit factors "222=222").
/// </summary>
public static class MultiplicationTask
{
    /// <summary>
    /// <paramref name="count"/> distinct problems with n drawn uniformly from <paramref name="digits"/>,
    /// skipping any prompt in <paramref name="exclude"/> (to hold out a test set).
    /// </summary>
    /// <exception cref="ArgumentException">An n outside 1..9, no digit counts, or more problems than exist.</exception>
    public static List<TaskExample> Generate(IReadOnlyList<int> digits, int count, int seed, bool chainOfThought, IReadOnlySet<string>? exclude = null)
    {
        if (digits.Count == 0 || digits.Any(d => d is < 1 or > 9)) throw new ArgumentException("digit counts must be in 1..9");
        if (count <= 0) throw new ArgumentException($"count must be positive, got {count}");
        long space = digits.Distinct().Sum(d => (long)Math.Pow(9 * Math.Pow(10, d - 1), 2));
        if (count > space / 2) throw new ArgumentException($"{count} problems requested but only {space} exist for {string.Join(",", digits)} digits");
        var rng = new Random(seed);
        var seen = new HashSet<string>(exclude ?? new HashSet<string>());
        var list = new List<TaskExample>(count);
        while (list.Count < count)
        {
            int n = digits[rng.Next(digits.Count)];
            long lo = (long)Math.Pow(10, n - 1), hi = lo * 10;
            long a = rng.NextInt64(lo, hi), b = rng.NextInt64(lo, hi);
            string prompt = $"{a}*{b}=";
            if (!seen.Add(prompt)) continue;
            list.Add(new TaskExample(prompt, chainOfThought ? ChainOfThought(a, b) : Product(a, b), $"{n}x{n}"));
        }
        return list;
    }

    /// <summary>"222+1480=1702" for 37×46: partial products by digit of b, least significant first.</summary>
    public static string ChainOfThought(long a, long b)
    {
        var partials = new List<string>();
        string digitsOfB = b.ToString(CultureInfo.InvariantCulture);
        for (int i = 0; i < digitsOfB.Length; i++)
        {
            int d = digitsOfB[^(i + 1)] - '0';
            partials.Add((new BigInteger(a) * d * BigInteger.Pow(10, i)).ToString(CultureInfo.InvariantCulture));
        }
        return string.Join('+', partials) + "=" + Product(a, b);
    }

    public static string Product(long a, long b) => (new BigInteger(a) * b).ToString(CultureInfo.InvariantCulture);

    /// <summary>The final answer of a response (after the last '='), for scoring a chain of thought by its result.</summary>
    public static string FinalAnswer(string response) => response[(response.LastIndexOf('=') + 1)..];
}
