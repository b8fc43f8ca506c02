using Dllm.Model;
using Dllm.Training;

namespace Dllm.Experiments;

/// <summary>
/// A trained checkpoint ready to answer task questions: an MDM runs through <see cref="LladaModel"/>
/// (bidirectional, KV-cache capable), an AR checkpoint (objective "ar" or "ar-sft" in
/// trainer_state.json) through <see cref="CausalModel"/> (causal attention).
/// </summary>
public sealed class TaskModel : IDisposable
{
    public required IDenoisingModel Model { get; init; }
    public required bool Autoregressive { get; init; }
    private IDisposable? _owned;

    /// <exception cref="DirectoryNotFoundException">No such directory.</exception>
    public static TaskModel Load(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"model directory '{dir}' does not exist");
        if (TrainingCheckpoint.IsAutoregressive(TrainingCheckpoint.ObjectiveOf(dir)))
            return new TaskModel { Model = CausalModel.Load(dir), Autoregressive = true };
        LladaModel lm = LladaModel.Load(dir);
        return new TaskModel { Model = lm, Autoregressive = false, _owned = lm };
    }

    public void Dispose() => _owned?.Dispose();
}
