using System.Buffers.Binary;
using System.Diagnostics;
using Dllm.IO;
using Dllm.Model;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Tests.Robustness;

/// <summary>
/// Every reader against thousands of mutated files (<see cref="Mutator"/>): the only outcomes allowed
/// are success (and then the result works) or an <see cref="InvalidDataException"/> (a
/// <see cref="NotSupportedException"/> for a well-formed file of a kind Dllm does not implement) whose
/// message is one line naming the problem. Never another exception type, never a hang. Each target is bounded in
/// mutants and in seconds, so the suite stays about a minute.
/// </summary>
public class LoaderFuzzTests
{
    private const int Mutants = 3000;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(6);
    private readonly ITestOutputHelper _out = TestContext.Current.TestOutputHelper!;

    /// <summary>Runs <paramref name="load"/> on each mutant written by <paramref name="write"/>; fails listing the first bad outcomes.</summary>
    private void Fuzz(string name, byte[] valid, int seed, Action<byte[]> write, Action load)
    {
        var failures = new List<string>();
        var sw = Stopwatch.StartNew();
        int n = 0, rejected = 0;
        foreach (var (bytes, what) in Mutator.Mutants(valid, seed, Mutants))
        {
            if (sw.Elapsed > Budget) break;
            n++;
            write(bytes);
            try { load(); }
            catch (Exception e) when (e is InvalidDataException or NotSupportedException && !e.Message.Contains('\n')) { rejected++; }
            catch (Exception e)
            {
                if (failures.Count < 8) failures.Add($"{what}: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
                else failures.Add("");
            }
        }
        _out.WriteLine($"{name}: {n} mutants in {sw.Elapsed.TotalSeconds:F1} s, {rejected} rejected with one line, {n - rejected - failures.Count} loaded");
        Assert.True(failures.Count == 0, $"{name}: {failures.Count} of {n} mutants ended otherwise:\n" + string.Join("\n", failures.Where(f => f.Length > 0)));
    }

    private static string CopyOf(string goldenDir)
    {
        string dir = TestPaths.TempDir();
        foreach (string f in Directory.EnumerateFiles(TestPaths.Golden(goldenDir))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        return dir;
    }

    /// <summary>A loaded model must also run.</summary>
    private static void LoadAndRun(string dir)
    {
        using Transformer m = Transformer.Load(dir);
        var logits = new float[m.VocabSize];
        m.Logits([1, 2, 3, 4], 1, 4, [3], logits);
    }

    [Fact]
    public void Safetensors_headers()
    {
        string dir = CopyOf("tiny-f32"), path = Path.Combine(dir, "model.safetensors");
        byte[] file = File.ReadAllBytes(path);
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        byte[] header = file[8..(8 + headerLength)], data = file[(8 + headerLength)..];
        Fuzz("safetensors header", header, 1, mutant =>
        {
            var prefix = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)mutant.Length);
            File.WriteAllBytes(path, [.. prefix, .. mutant, .. data]);
        }, () => LoadAndRun(dir));
    }

    [Fact]
    public void Safetensors_whole_files()
    {
        string dir = CopyOf("tiny-f32"), path = Path.Combine(dir, "model.safetensors");
        byte[] file = File.ReadAllBytes(path);
        // Mostly the prefix and header region: the data bytes are any float.
        Fuzz("safetensors file", file[..1200], 2, mutant => File.WriteAllBytes(path, [.. mutant, .. file[Math.Min(file.Length, 1200)..]]),
            () => LoadAndRun(dir));
    }

    [Theory]
    [InlineData("tiny-f32", null)]
    [InlineData("kjv-mdm-3m", "q4_0")]
    [InlineData("kjv-mdm-3m", "q4_k")]
    [InlineData("qwen/dream-f32", null)]
    [InlineData("lladamoe/tiny-qknorm", "q8_0")]
    public void Gguf_headers(string model, string? quantize)
    {
        string src = model == "kjv-mdm-3m" ? IO.CheckpointQuantizerTests.BundledMdm() : TestPaths.Golden(model.Split('/'));
        if (quantize != null)
        {
            string q = Path.Combine(TestPaths.TempDir(), "q");
            CheckpointQuantizer.Quantize(src, CheckpointQuantizer.ParseType(quantize), q);
            src = q;
        }
        string path = Path.Combine(TestPaths.TempDir(), "m.gguf");
        GgufExport.Write(src, path);
        byte[] file = File.ReadAllBytes(path);
        long dataStart;
        using (var g = GgufFile.Open(path)) dataStart = g.Tensors.Values.Min(t => t.DataOffset);
        // The header (metadata, tensor infos) mutated; the data kept, so what loads must also run.
        Fuzz($"gguf header ({model} {quantize ?? "f32"})", file[..(int)dataStart], 6, mutant => File.WriteAllBytes(path, [.. mutant, .. file[(int)dataStart..]]),
            () =>
            {
                using Transformer m = GgufModel.Load(path);
                var logits = new float[m.VocabSize];
                m.Logits([1, 2, 3, 4], 1, 4, [3], logits);
            });
    }

    [Fact]
    public void Config_json()
    {
        string dir = CopyOf("tiny-f32"), path = Path.Combine(dir, "config.json");
        Fuzz("config.json", File.ReadAllBytes(path), 3, b => File.WriteAllBytes(path, b), () => LoadAndRun(dir));
    }

    [Fact]
    public void Shard_index()
    {
        string dir = CopyOf("tiny-bf16-gqa"), path = Path.Combine(dir, "model.safetensors.index.json");
        Fuzz("shard index", File.ReadAllBytes(path), 4, b => File.WriteAllBytes(path, b), () => LoadAndRun(dir));
    }

    [Fact]
    public void Tokenizer_json()
    {
        string dir = TestPaths.TempDir(), path = Path.Combine(dir, "tokenizer.json");
        Fuzz("tokenizer.json", File.ReadAllBytes(TestPaths.Golden("tokenizer", "tokenizer.json")), 5, b => File.WriteAllBytes(path, b), () =>
        {
            ITokenizer t = TokenizerLoader.Load(dir);
            t.Decode(t.Encode("Hello, world! 123 héllo\n  x"), skipSpecialTokens: true);
        });
    }

    [Fact]
    public void Byte_tokenizer_json()
    {
        string dir = TestPaths.TempDir(), path = Path.Combine(dir, "tokenizer.json");
        string bundled = Path.Combine(TestPaths.BundledModel(), "tokenizer.json");
        Fuzz("byte tokenizer.json", File.ReadAllBytes(bundled), 6, b => File.WriteAllBytes(path, b), () =>
        {
            ITokenizer t = TokenizerLoader.Load(dir);
            t.Decode(t.Encode("Hello, world!"), skipSpecialTokens: true);
        });
    }

    private static readonly byte[] SftLines = System.Text.Encoding.UTF8.GetBytes(
        "{\"prompt\": \"What is 2 + 2?\", \"response\": \"4\"}\n" +
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}\n" +
        "{\"prompt\": \"x\", \"response\": \"y\", \"task\": \"copy\"}\n");

    [Fact]
    public void Sft_jsonl()
    {
        string path = Path.Combine(TestPaths.TempDir(), "sft.jsonl");
        Fuzz("sft jsonl", SftLines, 7, b => File.WriteAllBytes(path, b), () => SftDataset.Load(path, new ByteTokenizer(), 512));
    }

    [Fact]
    public void Task_jsonl()
    {
        string path = Path.Combine(TestPaths.TempDir(), "tasks.jsonl");
        Fuzz("task jsonl", SftLines, 8, b => File.WriteAllBytes(path, b), () => TaskExample.ReadJsonl(path));
    }

    [Fact]
    public void Pretraining_jsonl()
    {
        string path = Path.Combine(TestPaths.TempDir(), "text.jsonl");
        byte[] lines = System.Text.Encoding.UTF8.GetBytes("{\"text\": \"In the beginning God created the heaven and the earth.\"}\n{\"text\": \"And the earth was without form.\"}\n");
        Fuzz("text jsonl", lines, 9, b => File.WriteAllBytes(path, b), () => TextCorpus.Load([path], new ByteTokenizer(), 4));
    }
}
