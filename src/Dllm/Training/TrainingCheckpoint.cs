using System.Text.Json;
using Dllm.IO;
using Dllm.Model;
using Dllm.Text;

namespace Dllm.Training;

/// <summary>What a resumed run needs besides the weights. <paramref name="Objective"/> is the training
/// objective, checked on resume; what the model is (its kind and attention) lives in config.json.</summary>
public sealed record TrainerState(long Step, int Seed, string Objective, long TokensSeen);

/// <summary>
/// A training checkpoint is a Hugging Face directory (LLaDA or Dream layout, as its config says) that
/// the engine, the Python reference and converters load as is — <c>config.json</c>, <c>model.safetensors</c> (F32),
/// <c>tokenizer.json</c> — plus <c>optimizer.safetensors</c> (AdamW moments) and
/// <c>trainer_state.json</c> for <c>--resume</c>. It is written into a fresh sibling directory and
/// swapped in by renames, so a kill at any moment leaves the previous checkpoint intact (at worst
/// under <c>DIR.old</c>, which <see cref="Load"/> falls back to).
/// </summary>
public static class TrainingCheckpoint
{
    public const string OptimizerFile = "optimizer.safetensors";
    public const string StateFile = "trainer_state.json";

    public static void Save(string dir, TrainableModel model, AdamW optimizer, TrainerState state, ITokenizer tokenizer)
    {
        string full = Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar);
        string tmp = full + ".tmp", old = full + ".old";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);

        model.Config.Save(Path.Combine(tmp, "config.json"));
        Parameters p = model.Parameters;
        SafeTensorsWriter.Write(Path.Combine(tmp, "model.safetensors"),
            p.Tensors.Select(t => SafeTensorsWriter.Entry.FromSingle(t.Name, t.Shape.Select(x => (long)x).ToArray(), p.Value(t).ToArray())));
        SafeTensorsWriter.Write(Path.Combine(tmp, OptimizerFile), p.Tensors.SelectMany(t => new[]
        {
            SafeTensorsWriter.Entry.FromSingle("m." + t.Name, [t.Length], optimizer.FirstMoment.AsSpan((int)t.Offset, t.Length).ToArray()),
            SafeTensorsWriter.Entry.FromSingle("v." + t.Name, [t.Length], optimizer.SecondMoment.AsSpan((int)t.Offset, t.Length).ToArray()),
        }), new Dictionary<string, string> { ["adamw_steps"] = optimizer.StepCount.ToString() });
        File.WriteAllText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(state));
        if (tokenizer is ByteTokenizer bt) bt.SaveTokenizerJson(Path.Combine(tmp, "tokenizer.json"));

        // Files of the run that are not part of the checkpoint (train_log.csv, plots) move along.
        if (Directory.Exists(full))
            foreach (string f in Directory.EnumerateFiles(full))
                if (!File.Exists(Path.Combine(tmp, Path.GetFileName(f)))) File.Copy(f, Path.Combine(tmp, Path.GetFileName(f)));

        // Swap: DIR → DIR.old, DIR.tmp → DIR, drop DIR.old. Each step is one rename.
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        if (Directory.Exists(full)) Directory.Move(full, old);
        Directory.Move(tmp, full);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }

    /// <summary>Copies the weights of a checkpoint directory (model.safetensors or shards) into <paramref name="model"/>, widened to float32.</summary>
    /// <exception cref="InvalidDataException">A tensor is missing or has another size.</exception>
    public static void LoadWeights(string dir, TrainableModel model)
    {
        using Checkpoint weights = Checkpoint.Open(dir); // single file or shards, any stored dtype
        foreach (ParameterTensor t in model.Parameters.Tensors)
            weights.ReadSingle(t.Name, t.Length).CopyTo(model.Parameters.Value(t));
    }

    /// <summary>Restores weights, optimizer moments and the trainer state saved by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">The checkpoint is incomplete or its shapes differ from the model's.</exception>
    public static TrainerState Load(string dir, TrainableModel model, AdamW optimizer)
    {
        string full = Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar);
        if (!File.Exists(Path.Combine(full, StateFile)) && File.Exists(Path.Combine(full + ".old", StateFile))) full += ".old";
        string statePath = Path.Combine(full, StateFile);
        if (!File.Exists(statePath)) throw new InvalidDataException($"cannot resume: no {StateFile} in '{dir}'");
        TrainerState state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(statePath))
            ?? throw new InvalidDataException($"{statePath}: empty trainer state");
        Parameters p = model.Parameters;
        using (var weights = SafeTensorsFile.Open(Path.Combine(full, "model.safetensors")))
        using (var opt = SafeTensorsFile.Open(Path.Combine(full, OptimizerFile)))
        {
            foreach (ParameterTensor t in p.Tensors)
            {
                float[] w = weights.ReadSingle(t.Name);
                if (w.Length != t.Length) throw new InvalidDataException($"cannot resume: tensor '{t.Name}' has {w.Length} values, the model expects {t.Length} (different model size flags?)");
                w.CopyTo(p.Value(t));
                opt.ReadSingle("m." + t.Name).CopyTo(optimizer.FirstMoment.AsSpan((int)t.Offset, t.Length));
                opt.ReadSingle("v." + t.Name).CopyTo(optimizer.SecondMoment.AsSpan((int)t.Offset, t.Length));
            }
            optimizer.RestoreStepCount(long.Parse(opt.Metadata["adamw_steps"]));
        }
        return state;
    }
}
