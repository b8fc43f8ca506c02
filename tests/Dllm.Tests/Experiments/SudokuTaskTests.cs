using Dllm.Experiments;
using Dllm.Training;

namespace Dllm.Tests.Experiments;

/// <summary>The Sudoku generator makes valid, uniquely solvable, minimal puzzles; the validity scorer is right.</summary>
public class SudokuTaskTests
{
    [Theory]
    [InlineData(4, 40)]
    [InlineData(9, 3)]
    public void Puzzles_are_distinct_uniquely_solvable_minimal_and_their_responses_solve_them(int n, int count)
    {
        List<TaskExample> puzzles = SudokuTask.Generate(n, count, seed: 5);
        Assert.Equal(count, puzzles.Select(p => p.Prompt).Distinct().Count());
        foreach (TaskExample p in puzzles)
        {
            Assert.Equal(n * n + n - 1, p.Prompt.Length);
            Assert.Equal(1, SudokuTask.CountSolutions(p.Prompt));
            Assert.True(SudokuTask.IsValidSolution(p.Prompt, p.Response), p.Prompt);
            // Minimal: blanking any clue leaves more than one solution.
            for (int i = 0; i < p.Prompt.Length; i++)
                if (p.Prompt[i] is not ('0' or '|'))
                    Assert.Equal(2, SudokuTask.CountSolutions(p.Prompt[..i] + "0" + p.Prompt[(i + 1)..]));
        }
    }

    [Fact]
    public void Same_seed_same_puzzles_other_seed_other_puzzles()
    {
        Assert.Equal(SudokuTask.Generate(4, 10, 1), SudokuTask.Generate(4, 10, 1));
        Assert.NotEqual(SudokuTask.Generate(4, 10, 1), SudokuTask.Generate(4, 10, 2));
    }

    [Fact]
    public void Validity_scorer_accepts_the_solution_and_rejects_wrong_grids()
    {
        TaskExample e = SudokuTask.Generate(4, 1, seed: 9)[0];
        string puzzle = e.Prompt, solution = e.Response;
        Assert.True(SudokuTask.IsValidSolution(puzzle, solution));
        int blank = puzzle.IndexOf('0'), clue = puzzle.IndexOfAny("1234".ToCharArray());
        string With(int i, char c) => solution[..i] + c + solution[(i + 1)..];
        char Other(char c) => c == '4' ? '1' : (char)(c + 1);
        Assert.False(SudokuTask.IsValidSolution(puzzle, With(blank, Other(solution[blank]))));  // a repeat in its row
        Assert.False(SudokuTask.IsValidSolution(puzzle, With(clue, Other(solution[clue]))));    // a clue changed
        Assert.False(SudokuTask.IsValidSolution(puzzle, solution[..^1]));                        // short
        Assert.False(SudokuTask.IsValidSolution(puzzle, With(0, 'x')));                          // not a digit
        Assert.False(SudokuTask.IsValidSolution(puzzle, solution.Replace("|", "") + "|||"));     // separators moved
        // A valid grid that breaks a clue is not a solution of this puzzle: relabel digits 1↔2.
        string relabelled = new(solution.Select(c => c == '1' ? '2' : c == '2' ? '1' : c).ToArray());
        Assert.False(SudokuTask.IsValidSolution(puzzle, relabelled) && puzzle.Any(c => c is '1' or '2'));
    }

    [Fact]
    public void Bad_sizes_are_rejected()
    {
        Assert.Contains("4 or 9", Assert.Throws<ArgumentException>(() => SudokuTask.Generate(5, 1, 1)).Message);
        Assert.Contains("16 or 81", Assert.Throws<ArgumentException>(() => SudokuTask.CountSolutions("123")).Message);
    }
}
