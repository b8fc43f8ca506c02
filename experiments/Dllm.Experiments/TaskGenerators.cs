namespace Dllm.Experiments;

/// <summary>The task generators by name, for <c>dllm experiment gen TASK --seed --count --out</c>.</summary>
public static class TaskGenerators
{
    public static readonly string[] Names = ["sudoku4", "sudoku9", "reversal", "poem", "mult", "mult-cot"];

    /// <exception cref="ArgumentException">Unknown task name (the message lists the known ones) or a bad count.</exception>
    public static List<TaskExample> Generate(string task, int count, int seed) => task switch
    {
        "sudoku4" => SudokuTask.Generate(4, count, seed),
        "sudoku9" => SudokuTask.Generate(9, count, seed),
        // count = pairs of names; training statements and the questions, in one file (filter by kind).
        "reversal" => ReversalTask.Generate(count, seed) is var (train, test) ? [.. train, .. test] : [],
        "poem" => PoemTask.Generate(count, seed) is var (ptrain, ptest) ? [.. ptrain, .. ptest] : [],
        "mult" => MultiplicationTask.Generate([2, 3, 4], count, seed, chainOfThought: false),
        "mult-cot" => MultiplicationTask.Generate([2, 3, 4], count, seed, chainOfThought: true),
        _ => throw new ArgumentException($"unknown task '{task}'; known: {string.Join(", ", Names)}"),
    };
}
