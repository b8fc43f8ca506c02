namespace Dllm.Text;

/// <summary>
/// A tokenizer that can write itself as a model directory's <c>tokenizer.json</c>, so that a checkpoint
/// (<see cref="Training.TrainingCheckpoint"/>) is self-describing and <see cref="TokenizerLoader.Load"/>
/// gives the same tokenizer back.
/// </summary>
public interface ISavableTokenizer
{
    /// <summary>Writes the tokenizer to <paramref name="path"/> (a <c>tokenizer.json</c>).</summary>
    void SaveTokenizerJson(string path);
}
