using Dllm.Model;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Tests.Training;

/// <summary>
/// Nothing is lost: a kill at any point of a checkpoint save leaves a loadable model at the path and a
/// resume that continues exactly; a fresh run never writes into a directory of the user's; a resume
/// with other model flags is refused before anything is overwritten.
/// </summary>
public class CheckpointSafetyTests
{
    private static readonly ByteTokenizer Tok = new();
    private static TextCorpus Corpus() => new(Tok.Encode(string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 40))).ToArray());

    private static TrainerOptions Options(int steps, int layers = 1) => new()
    {
        Steps = steps, BatchSize = 2, SeqLen = 16, WarmupSteps = 1, LearningRate = 3e-3, SaveEvery = 2, Seed = 3,
        Config = TestConfigs.Bytes(16, 2, 2, layers, 32, 32),
    };

    [Fact]
    public void A_kill_between_any_two_file_operations_of_a_save_leaves_a_loadable_model_and_an_exact_resume()
    {
        string reference = TestPaths.TempDir();
        TrainableModel straight = Trainer.Run(Options(4), Corpus(), Tok, reference, resume: false);

        // The operations of one save (after the first, so an older checkpoint is in place).
        var ops = new List<string>();
        string probe = TestPaths.TempDir();
        Trainer.Run(Options(2), Corpus(), Tok, probe, resume: false);
        TrainableModel m = TrainingCheckpoint_LoadForTest(probe, out AdamW opt, out TrainerState st);
        TrainingCheckpoint.Save(probe, m, opt, st, Tok, ops.Add);
        Assert.True(ops.Count >= 8, string.Join(", ", ops));

        for (int kill = 0; kill < ops.Count; kill++)
        {
            string dir = TestPaths.TempDir();
            // Steps 1-2 saved normally; the save of step 4 is killed after operation `kill`.
            string op = ops[kill];
            Assert.Throws<SimulatedKill>(() => Trainer.Run(Options(4), Corpus(), Tok, dir, resume: false, onStep: null, ct: default,
                afterSaveOperation: (step, done) => { if (step == 4 && done == op) throw new SimulatedKill(); }));
            using (Transformer loaded = Transformer.Load(dir)) // what every verb does
                Assert.Equal(1, loaded.Config.NLayers);
            TrainableModel resumed = Trainer.Run(Options(4), Corpus(), Tok, dir, resume: true);
            Assert.Equal(straight.Parameters.Values, resumed.Parameters.Values);
            Assert.False(Directory.Exists(dir + ".tmp"), $"kill after '{ops[kill]}': DIR.tmp left behind");
            var log = File.ReadAllLines(Path.Combine(dir, TrainLog.FileName));
            Assert.Equal(["1", "2", "3", "4"], log.Skip(1).Select(l => l.Split(',')[0]));
        }
    }

    private sealed class SimulatedKill : Exception;

    private static TrainableModel TrainingCheckpoint_LoadForTest(string dir, out AdamW opt, out TrainerState state)
    {
        var m = new TrainableModel(ModelConfig.Load(Path.Combine(dir, "config.json")));
        opt = new AdamW(m.Parameters);
        state = TrainingCheckpoint.Load(dir, m, opt);
        return m;
    }

    [Fact]
    public void A_fresh_run_refuses_a_directory_with_the_users_files_and_touches_nothing()
    {
        string dir = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "mine");
        Directory.CreateDirectory(Path.Combine(dir, "photos"));
        File.WriteAllText(Path.Combine(dir, "photos", "a.jpg"), "jpeg");
        var e = Assert.Throws<IOException>(() => Trainer.Run(Options(2), Corpus(), Tok, dir, resume: false));
        Assert.Contains("refusing to train into", e.Message);
        Assert.Contains("notes.txt", e.Message);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(dir, "notes.txt")));
        Assert.Equal("jpeg", File.ReadAllText(Path.Combine(dir, "photos", "a.jpg")));
        Assert.Equal(2, Directory.EnumerateFileSystemEntries(dir).Count());
    }

    [Fact]
    public void Files_the_user_adds_to_a_run_directory_survive_its_saves()
    {
        string dir = TestPaths.TempDir();
        Trainer.Run(Options(2), Corpus(), Tok, dir, resume: false);
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "mine");
        Directory.CreateDirectory(Path.Combine(dir, "evals"));
        Trainer.Run(Options(4), Corpus(), Tok, dir, resume: true);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(dir, "notes.txt")));
        Assert.True(Directory.Exists(Path.Combine(dir, "evals")));
    }

    [Fact]
    public void Resume_with_other_model_flags_is_refused_and_the_checkpoint_is_unchanged()
    {
        string dir = TestPaths.TempDir();
        Trainer.Run(Options(2), Corpus(), Tok, dir, resume: false);
        byte[] before = File.ReadAllBytes(Path.Combine(dir, "model.safetensors"));
        var e = Assert.Throws<ArgumentException>(() => Trainer.Run(Options(4, layers: 2), Corpus(), Tok, dir, resume: true));
        Assert.Contains("n_layers 1 in the checkpoint, 2 asked for", e.Message);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));
    }

    [Fact]
    public void Resume_with_another_mixture_of_experts_is_refused()
    {
        ModelConfig Moe(int experts) => TestConfigs.Bytes(16, 2, 2, 1, 32, 32) with
        {
            Family = ModelFamily.LladaMoe, Architectures = [LladaMoeConfig.Architecture], ModelType = "llada",
            Moe = MoeConfig.Create(layers: 1, experts: experts, topK: 2, expertHidden: 8, auxLossCoef: 0.01),
        };
        string dir = TestPaths.TempDir();
        Trainer.Run(Options(2) with { Config = Moe(4) }, Corpus(), Tok, dir, resume: false);
        var e = Assert.Throws<ArgumentException>(() => Trainer.Run(Options(4) with { Config = Moe(8) }, Corpus(), Tok, dir, resume: true));
        Assert.Contains("experts 4 in the checkpoint, 8 asked for", e.Message);
    }
}
