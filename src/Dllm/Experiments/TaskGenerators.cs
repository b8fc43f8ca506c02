namespace Dllm.Experiments;

/// <summary>The task generators by name, for <c>dllm experiment gen TASK --seed --count --out</c>.</summary>
public static class TaskGenerators
{
    public static readonly string[] Names = ["sudoku4", "sudoku9"];

    /// <exception cref="ArgumentException">Unknown task name (the message lists the known ones) or a bad count.</exception>
    public static List<TaskExample> Generate(string task, int count, int seed) => task switch
    {
        "sudoku4" => SudokuTask.Generate(4, count, seed),
        "sudoku9" => SudokuTask.Generate(9, count, seed),
        _ => throw new ArgumentException($"unknown task '{task}'; known: {string.Join(", ", Names)}"),
    };
}
