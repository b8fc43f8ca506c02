namespace Dllm.Experiments;

/// <summary>
/// Sudoku puzzles with a unique solution (the planning task of "Beyond Autoregression", Ye et al. 2024):
/// n×n grids (4×4 with 2×2 boxes, 9×9 with 3×3 boxes). A puzzle is written row by row, n digits a row
/// with '0' for a blank and '|' between rows ("1002|0010|..."); the response is the solved grid in the
/// same layout (4×4: 19 characters, 9×9: 89). Generation: a random
/// full grid by randomised backtracking, then cells are blanked in random order, each blank kept only
/// if the puzzle still has exactly one solution, until no more can be removed (a minimal puzzle) or
/// <c>minClues</c> is reached.
/// </summary>
public static class SudokuTask
{
    /// <summary>Generates <paramref name="count"/> distinct puzzles of size <paramref name="n"/> (4 or 9).</summary>
    /// <exception cref="ArgumentException">n is not 4 or 9, or count is not positive.</exception>
    public static List<TaskExample> Generate(int n, int count, int seed, int minClues = 0)
    {
        if (n is not (4 or 9)) throw new ArgumentException($"sudoku size must be 4 or 9, got {n}");
        if (count <= 0) throw new ArgumentException($"count must be positive, got {count}");
        var rng = new Random(seed);
        var seen = new HashSet<string>();
        var list = new List<TaskExample>(count);
        for (int attempts = 0; list.Count < count; attempts++)
        {
            if (attempts > count * 50) throw new InvalidOperationException($"could not find {count} distinct {n}x{n} puzzles");
            int[] solution = RandomGrid(n, rng);
            int[] puzzle = MakePuzzle(solution, n, rng, minClues);
            string p = Write(puzzle, n);
            if (seen.Add(p)) list.Add(new TaskExample(p, Write(solution, n), $"{n}x{n}"));
        }
        return list;
    }

    /// <summary>True when <paramref name="answer"/> is a complete valid n×n grid that keeps every clue of <paramref name="puzzle"/>.</summary>
    public static bool IsValidSolution(string puzzle, string answer)
    {
        if (answer.Length != puzzle.Length || answer.Where((c, i) => (c == '|') != (puzzle[i] == '|')).Any()) return false;
        puzzle = puzzle.Replace("|", ""); answer = answer.Replace("|", "");
        int n = (int)Math.Round(Math.Sqrt(puzzle.Length));
        if (n is not (4 or 9) || answer.Length != puzzle.Length) return false;
        int[] a = new int[answer.Length];
        for (int i = 0; i < a.Length; i++)
        {
            if (answer[i] < '1' || answer[i] > '0' + n) return false;
            a[i] = answer[i] - '0';
            if (puzzle[i] != '0' && puzzle[i] != answer[i]) return false;
        }
        for (int i = 0; i < a.Length; i++)
        {
            int v = a[i]; a[i] = 0;
            bool ok = Allowed(a, n, i, v);
            a[i] = v;
            if (!ok) return false;
        }
        return true;
    }

    /// <summary>Number of solutions of a puzzle ('0' = blank), counting up to <paramref name="limit"/>.</summary>
    public static int CountSolutions(string puzzle, int limit = 2)
    {
        puzzle = puzzle.Replace("|", "");
        int n = (int)Math.Round(Math.Sqrt(puzzle.Length));
        if (n * n != puzzle.Length || n is not (4 or 9) || puzzle.Any(c => c < '0' || c > '0' + n))
            throw new ArgumentException($"a puzzle has 16 or 81 cells of digits 0..n, got '{puzzle}'");
        return Count(puzzle.Select(c => c - '0').ToArray(), n, limit);
    }

    private static string Write(int[] grid, int n)
        => string.Join('|', grid.Chunk(n).Select(row => string.Concat(row.Select(v => (char)('0' + v)))));

    private static int[] RandomGrid(int n, Random rng)
    {
        var g = new int[n * n];
        if (!Fill(g, n, 0, rng)) throw new InvalidOperationException("no sudoku grid");
        return g;
    }

    private static bool Fill(int[] g, int n, int cell, Random rng)
    {
        if (cell == g.Length) return true;
        int[] digits = Enumerable.Range(1, n).ToArray();
        rng.Shuffle(digits);
        foreach (int d in digits)
        {
            if (!Allowed(g, n, cell, d)) continue;
            g[cell] = d;
            if (Fill(g, n, cell + 1, rng)) return true;
        }
        g[cell] = 0;
        return false;
    }

    private static int[] MakePuzzle(int[] solution, int n, Random rng, int minClues)
    {
        int[] p = (int[])solution.Clone();
        int[] order = Enumerable.Range(0, p.Length).ToArray();
        rng.Shuffle(order);
        int clues = p.Length;
        foreach (int cell in order)
        {
            if (clues <= minClues) break;
            int keep = p[cell];
            p[cell] = 0;
            if (Count((int[])p.Clone(), n, 2) == 1) clues--;
            else p[cell] = keep;
        }
        return p;
    }

    /// <summary>Backtracking solution counter (most-constrained cell first), stopping at limit.</summary>
    private static int Count(int[] g, int n, int limit)
    {
        int best = -1, bestOptions = int.MaxValue;
        for (int i = 0; i < g.Length; i++)
        {
            if (g[i] != 0) continue;
            int options = 0;
            for (int d = 1; d <= n; d++) if (Allowed(g, n, i, d)) options++;
            if (options == 0) return 0;
            if (options < bestOptions) { best = i; bestOptions = options; }
        }
        if (best < 0) return 1;
        int found = 0;
        for (int d = 1; d <= n && found < limit; d++)
        {
            if (!Allowed(g, n, best, d)) continue;
            g[best] = d;
            found += Count(g, n, limit - found);
            g[best] = 0;
        }
        return found;
    }

    /// <summary>May digit d go in cell (no equal digit in its row, column or box; the cell itself is ignored if 0)?</summary>
    private static bool Allowed(int[] g, int n, int cell, int d)
    {
        int r = cell / n, c = cell % n, box = (int)Math.Round(Math.Sqrt(n));
        int br = r / box * box, bc = c / box * box;
        for (int k = 0; k < n; k++)
        {
            if (g[r * n + k] == d || g[k * n + c] == d) return false;
            if (g[(br + k / box) * n + bc + k % box] == d) return false;
        }
        return true;
    }
}
