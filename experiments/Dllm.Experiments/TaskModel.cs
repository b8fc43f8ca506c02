using Dllm.Model;

namespace Dllm.Experiments;

/// <summary>
/// A trained checkpoint ready to answer task questions, with whether its config.json says it is
/// autoregressive (then it is decoded left to right, otherwise by denoising).
/// </summary>
public sealed class TaskModel : IDisposable
{
    public required Transformer Model { get; init; }
    public bool Autoregressive => Model.Config.Kind == ModelKind.Autoregressive;

    /// <exception cref="DirectoryNotFoundException">No such directory.</exception>
    public static TaskModel Load(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"model directory '{dir}' does not exist");
        return new TaskModel { Model = Transformer.Load(dir) };
    }

    public void Dispose() => Model.Dispose();
}
