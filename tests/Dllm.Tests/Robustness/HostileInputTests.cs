using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Dllm.IO;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;
using Dllm.Training;

namespace Dllm.Tests.Robustness;

/// <summary>One regression test per hostile or clumsy input found by hand, each asserting its one-line message.</summary>
public class HostileInputTests
{
    private static string CopyOfTinyF32()
    {
        string dir = TestPaths.TempDir();
        foreach (string f in Directory.EnumerateFiles(TestPaths.Golden("tiny-f32"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        return dir;
    }

    private static void EditConfig(string dir, string from, string to)
    {
        string p = Path.Combine(dir, "config.json"), text = File.ReadAllText(p);
        Assert.Contains(from, text);
        File.WriteAllText(p, text.Replace(from, to));
    }

    [Theory]
    [InlineData("\"data_offsets\": [\"0\", 4]")]
    [InlineData("\"data_offsets\": [null, 4]")]
    [InlineData("\"data_offsets\": [true, 4]")]
    public void Safetensors_data_offsets_of_another_type_are_named(string offsets)
    {
        string path = Path.Combine(TestPaths.TempDir(), "x.safetensors");
        string header = "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], " + offsets + "}}";
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)Encoding.UTF8.GetByteCount(header));
        File.WriteAllBytes(path, [.. prefix, .. Encoding.UTF8.GetBytes(header), 0, 0, 0, 0]);
        Assert.Contains("data_offsets of tensor 'w' must be [begin, end] with non-negative integers", Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path)).Message);
    }

    [Fact]
    public void A_tensor_name_with_a_lone_surrogate_is_named()
    {
        string path = Path.Combine(TestPaths.TempDir(), "x.safetensors");
        string header = "{\"w\\ud800\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}";
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        File.WriteAllBytes(path, [.. prefix, .. Encoding.UTF8.GetBytes(header), 0, 0, 0, 0]);
        Assert.Contains("not valid Unicode", Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path)).Message);
    }

    [Fact]
    public void A_huge_max_sequence_length_costs_nothing_until_used()
    {
        string dir = CopyOfTinyF32();
        EditConfig(dir, "\"max_sequence_length\": 256", "\"max_sequence_length\": 536870912"); // 2^29
        long before = GC.GetTotalMemory(false);
        using Transformer m = Transformer.Load(dir);
        var logits = new float[m.VocabSize];
        m.Logits([1, 2, 3], 1, 3, [2], logits);
        Assert.True(GC.GetTotalMemory(false) - before < 64L << 20, "loading allocated for every allowed position");
    }

    [Theory]
    [InlineData("\"mlp_hidden_size\": 160,", "", "\"mlp_ratio\": 2", "\"mlp_ratio\": 2147483647", "is not a usable width")]
    [InlineData("\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": 1e400", "", "", "config.json")]
    [InlineData("\"rope_theta\": 10000.0", "\"rope_theta\": 1e400", "", "", "config.json")]
    [InlineData("\"n_layers\": 2", "\"n_layers\": 1", "", "", "tensor(s) that config.json does not call for, first 'model.transformer.blocks.1.")]
    [InlineData("\"n_layers\": 2", "\"n_layers\": 2147483647", "", "", "tensor 'model.transformer.blocks.2.attn_norm.weight' that config.json calls for is not in the checkpoint")]
    public void Config_values_out_of_range_are_named(string from, string to, string from2, string to2, string message)
    {
        string dir = CopyOfTinyF32();
        EditConfig(dir, from, to);
        if (from2.Length > 0) EditConfig(dir, from2, to2);
        var e = Assert.Throws<InvalidDataException>(() => Transformer.Load(dir));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void An_infill_template_longer_than_the_model_is_refused_before_allocating()
    {
        var e = Assert.Throws<ArgumentException>(() => Infill.Build("a [MASK:1000000000] b", s => [1], 96, null, maxLength: 256));
        Assert.Contains("asks for 1,000,000,000 masks, more than the model's maximum sequence length 256", e.Message);
    }

    [Theory]
    [InlineData(100000, 256, 16)]
    [InlineData(2, 1048576, 16)]
    [InlineData(2, 64, 4194304)]
    public void Training_sizes_that_cannot_fit_are_refused_naming_the_memory(int layers, int dModel, int batch)
    {
        var tok = new ByteTokenizer();
        var corpus = new TextCorpus(tok.Encode(string.Concat(Enumerable.Repeat("abc ", 100))).ToArray());
        var o = new TrainerOptions
        {
            Steps = 2, BatchSize = batch, SeqLen = 16, WarmupSteps = 0, SaveEvery = 2,
            Config = TestConfigs.Bytes(dModel, 4, 4, layers, Math.Max(64, dModel), 64),
        };
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<ArgumentException>(() => Trainer.Run(o, corpus, tok, TestPaths.TempDir(), resume: false));
        Assert.Contains("would need", e.Message);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"refused only after {sw.Elapsed}");
    }

    [Fact]
    public void A_catastrophically_backtracking_split_pattern_fails_in_about_a_second()
    {
        string json = File.ReadAllText(TestPaths.Golden("tokenizer", "tokenizer.json"));
        int at = json.IndexOf("\"pre_tokenizer\"", StringComparison.Ordinal);
        Assert.True(at >= 0);
        string dir = TestPaths.TempDir();
        string evil = "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a+)+$\"}, \"behavior\": \"Isolated\", \"invert\": false}, \"pre_tokenizer_old\"";
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json[..at] + evil + json[(at + "\"pre_tokenizer\"".Length)..]);
        ITokenizer tok = TokenizerLoader.Load(dir);
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<InvalidDataException>(() => tok.Encode(new string('a', 40) + "!"));
        Assert.Contains("backtracks catastrophically", e.Message);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_fifo_given_as_a_model_file_is_refused_without_blocking()
    {
        string dir = CopyOfTinyF32(), config = Path.Combine(dir, "config.json");
        File.Delete(config);
        using (var p = Process.Start("mkfifo", config)) p.WaitForExit();
        var load = Task.Run(() => Assert.Throws<InvalidDataException>(() => Transformer.Load(dir)).Message);
        Assert.True(load.Wait(TimeSpan.FromSeconds(20)), "loading a FIFO blocked");
        Assert.Contains("not a regular file", load.Result);
    }

    [Fact]
    public void Binary_training_data_is_refused_naming_the_offset()
    {
        string path = Path.Combine(TestPaths.TempDir(), "data.txt");
        File.WriteAllBytes(path, [.. Encoding.UTF8.GetBytes("some text here"), 0, 1, 2, 3]);
        var e = Assert.Throws<InvalidDataException>(() => TextCorpus.Load([path], new ByteTokenizer(), 4));
        Assert.Contains("a NUL byte at offset 14", e.Message);

        File.WriteAllBytes(path, [.. Enumerable.Repeat((byte)0xFF, 50), .. Encoding.UTF8.GetBytes("text")]);
        e = Assert.Throws<InvalidDataException>(() => TextCorpus.Load([path], new ByteTokenizer(), 4));
        Assert.Contains("byte 0xFF at offset 0 is invalid UTF-8 (50 invalid bytes of 54", e.Message);

        // One stray byte in a large text is tolerated (it decodes to U+FFFD).
        File.WriteAllBytes(path, [.. Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("plain text. ", 200))), 0xE9]);
        Assert.True(TextCorpus.Load([path], new ByteTokenizer(), 4).Tokens.Length > 2000);

        string jsonl = Path.Combine(TestPaths.TempDir(), "data.jsonl");
        File.WriteAllBytes(jsonl, [.. Encoding.UTF8.GetBytes("{\"text\": \"caf"), 0xE9, .. Encoding.UTF8.GetBytes("\"}\n")]);
        Assert.Contains("invalid UTF-8", Assert.Throws<InvalidDataException>(() => TextCorpus.Load([jsonl], new ByteTokenizer(), 1)).Message);
    }

    [Fact]
    public void A_byte_tokenizer_descriptor_version_that_is_not_an_integer_is_named()
    {
        string dir = TestPaths.TempDir();
        new ByteTokenizer().SaveTokenizerJson(Path.Combine(dir, "tokenizer.json"));
        string p = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(p, File.ReadAllText(p).Replace("\"version\": 1", "\"version\": 1.0"));
        Assert.Contains("descriptor version 1.0 is not supported", Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(dir)).Message);
    }
}
