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
/// <c>trainer_state.json</c> for <c>--resume</c>.
/// </summary>
/// <remarks>
/// <para>What a kill can cost. <see cref="Save"/> writes the new files into the sibling <c>DIR.tmp</c>,
/// flushed, then marks that set complete (the empty file <c>COMPLETE</c>, created last), then moves the
/// files over their old versions one rename at a time, <c>trainer_state.json</c> last, and removes
/// <c>DIR.tmp</c>. So at every instant after the first save, <c>DIR</c> holds a whole config and a whole
/// weights file (old or new): every verb loads it. A run killed mid-move is finished by
/// <see cref="Recover"/> (rolled forward from the complete set), which training runs before anything
/// else; an incomplete <c>DIR.tmp</c> (killed while writing) is dropped, losing only the steps since the
/// previous save.</para>
/// <para>What is never touched: files in <c>DIR</c> that are not checkpoint files (the append-only
/// <c>train_log.csv</c>, plots, anything of the user's) and every subdirectory. A fresh run refuses a
/// non-empty <c>DIR</c> that is not a Dllm training directory (<see cref="CheckOutputDirectory"/>).</para>
/// </remarks>
public static class TrainingCheckpoint
{
    public const string OptimizerFile = "optimizer.safetensors";
    public const string StateFile = "trainer_state.json";
    private const string CompleteMarker = "COMPLETE";

    /// <summary>The files a training run writes in its directory; anything else there is the user's.</summary>
    public static readonly IReadOnlySet<string> OwnFiles = new HashSet<string>(StringComparer.Ordinal)
    {
        "config.json", "model.safetensors", OptimizerFile, StateFile, "tokenizer.json", TrainLog.FileName, "loss.png",
    };

    /// <summary>Writes a checkpoint of the step <paramref name="state"/> names (see the remarks for the sequence).</summary>
    /// <param name="afterEachOperation">Test hook: called after every file operation with its name, so a test
    /// can stop the sequence anywhere (as a kill would).</param>
    public static void Save(string dir, TrainableModel model, AdamW optimizer, TrainerState state, ITokenizer tokenizer,
        Action<string>? afterEachOperation = null)
    {
        string full = Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar), tmp = full + ".tmp";
        Action<string> step = afterEachOperation ?? (_ => { });
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        Directory.CreateDirectory(full);

        // 1. The new set, each file written atomically and flushed.
        Parameters p = model.Parameters;
        SafeTensorsWriter.Write(Path.Combine(tmp, OptimizerFile), p.Tensors.SelectMany(t => new[]
        {
            SafeTensorsWriter.Entry.FromSingle("m." + t.Name, [t.Length], optimizer.FirstMoment.AsSpan((int)t.Offset, t.Length).ToArray()),
            SafeTensorsWriter.Entry.FromSingle("v." + t.Name, [t.Length], optimizer.SecondMoment.AsSpan((int)t.Offset, t.Length).ToArray()),
        }), new Dictionary<string, string> { ["adamw_steps"] = optimizer.StepCount.ToString() });
        step("write " + OptimizerFile);
        SafeTensorsWriter.Write(Path.Combine(tmp, "model.safetensors"),
            p.Tensors.Select(t => SafeTensorsWriter.Entry.FromSingle(t.Name, t.Shape.Select(x => (long)x).ToArray(), p.Value(t).ToArray())));
        step("write model.safetensors");
        model.Config.Save(Path.Combine(tmp, "config.json"));
        step("write config.json");
        if (tokenizer is ISavableTokenizer st) { st.SaveTokenizerJson(Path.Combine(tmp, "tokenizer.json")); step("write tokenizer.json"); }
        AtomicFile.WriteAllText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(state));
        step("write " + StateFile);
        // 2. Mark the set complete: from here on a kill is finished by Recover, not undone.
        AtomicFile.WriteAllText(Path.Combine(tmp, CompleteMarker), "");
        step("mark complete");
        // 3. Move it in, one atomic rename per file, the trainer state last.
        MoveIn(tmp, full, step);
    }

    /// <summary>
    /// Finishes or drops a save that a kill interrupted: a complete <c>DIR.tmp</c> is moved in (rolled
    /// forward), an incomplete one deleted. Does nothing when there is none. Training calls it first.
    /// </summary>
    public static void Recover(string dir)
    {
        string full = Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar), tmp = full + ".tmp";
        if (!Directory.Exists(tmp)) return;
        if (File.Exists(Path.Combine(tmp, CompleteMarker)))
        {
            Directory.CreateDirectory(full);
            MoveIn(tmp, full, _ => { });
        }
        else Directory.Delete(tmp, recursive: true);
    }

    /// <summary>
    /// Refuses to start a fresh run in a directory that holds anything but a Dllm training run's own
    /// files (<see cref="OwnFiles"/>): training there would mix its files with the user's. A missing or
    /// empty directory, or an earlier run's directory (which a fresh run overwrites), is fine.
    /// </summary>
    /// <exception cref="IOException">The directory holds other files or any subdirectory (the message lists a few).</exception>
    public static void CheckOutputDirectory(string dir)
    {
        if (!Directory.Exists(dir)) return;
        var foreign = Directory.EnumerateFileSystemEntries(dir)
            .Where(e => Directory.Exists(e) || !OwnFiles.Contains(Path.GetFileName(e)))
            .Select(e => Path.GetFileName(e) + (Directory.Exists(e) ? "/" : "")).Take(4).ToList();
        if (foreign.Count > 0)
            throw new IOException($"refusing to train into '{dir}': it holds files that are not a Dllm training run's ({string.Join(", ", foreign)}{(foreign.Count == 4 ? ", ..." : "")}); give --out a new or empty directory");
    }

    /// <summary>Moves every file of <paramref name="tmp"/> over its namesake in <paramref name="full"/>, the trainer state last, then removes tmp.</summary>
    private static void MoveIn(string tmp, string full, Action<string> step)
    {
        var files = Directory.EnumerateFiles(tmp).Select(Path.GetFileName).Where(f => f != CompleteMarker && f != StateFile).Order(StringComparer.Ordinal).ToList();
        if (File.Exists(Path.Combine(tmp, StateFile))) files.Add(StateFile);
        foreach (string f in files!)
        {
            File.Move(Path.Combine(tmp, f!), Path.Combine(full, f!), overwrite: true);
            step("move " + f);
        }
        Directory.Delete(tmp, recursive: true);
        step("remove tmp");
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
