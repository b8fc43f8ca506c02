using System.Collections.Concurrent;
using Dllm.IO;
using Dllm.Model;
using Dllm.Sampling;
using LLama.Native;

namespace Dllm.Tests.Reference;

/// <summary>
/// llama.cpp's <c>libllama</c> (LLamaSharp 0.30.0 and its CPU backend) as a second, outside
/// implementation of the transformer: a tiny golden checkpoint is exported to an F32 GGUF
/// (<see cref="GgufExport"/>), run by libllama (flash attention off, the whole canvas in one ubatch,
/// logits at every position) and compared with Dllm's <see cref="Transformer.Logits"/>; then greedy
/// diffusion decoding with <see cref="DiffusionSampler"/> must give the same canvas on both.
/// </summary>
/// <remarks>
/// Dream: llama.cpp's <c>dream</c> graph returns the model's raw output at every position and leaves the
/// shift to its diffusion example (<c>diffusion.shift_logits</c>), which reads position p's logits from
/// row p − 1 and position 0 from its own row. Dllm's <c>Logits</c> already applies that shift, so the
/// llama.cpp rows are shifted the same way before comparing (<see cref="LlamaCppModel"/>).
/// </remarks>
public sealed class LlamaCppTests(ITestOutputHelper output)
{
    /// <summary>Max |Dllm − llama.cpp| over every logit, relative to the largest |logit|.</summary>
    private const double Tolerance = 1e-4;

    public static TheoryData<string> Exportable => new()
    {
        "tiny-f32",              // LLaDA, MHA, F32
        "tiny-bf16-gqa",         // LLaDA, GQA, BF16 sharded (widened to F32 for llama.cpp)
        "tiny-tied",             // LLaDA, tied embedding (written twice)
        "qwen/dream-f32",        // Dream: q/k/v biases, NEOX rope, shifted logits
        "lladamoe/tiny-qknorm",  // LLaDA-MoE with q/k norms: llama.cpp's llada-moe layout
    };

    [Theory]
    [MemberData(nameof(Exportable))]
    public void Logits_match_llama_cpp(string golden)
    {
        using var dllm = Transformer.Load(TestPaths.Golden(golden.Split('/')));
        using var cpp = LlamaCppModel.Export(TestPaths.Golden(golden.Split('/')));
        Assert.Equal(dllm.VocabSize, cpp.VocabSize);
        int v = dllm.VocabSize, mask = dllm.Config.MaskTokenId;
        var rng = new Random(1234);
        double worst = 0;
        foreach (int length in new[] { 1, 7, 16, 32 })
        {
            int[] tokens = [.. Enumerable.Range(0, length).Select(_ => rng.Next(4) == 0 ? mask : rng.Next(v))];
            int[] positions = [.. Enumerable.Range(0, length)];
            var expected = new float[length * v];
            var actual = new float[length * v];
            dllm.Logits(tokens, 1, length, positions, expected);
            cpp.Logits(tokens, 1, length, positions, actual);
            double scale = expected.Max(x => Math.Abs((double)x)), diff = 0;
            for (int i = 0; i < expected.Length; i++) diff = Math.Max(diff, Math.Abs((double)expected[i] - actual[i]));
            double rel = diff / scale;
            worst = Math.Max(worst, rel);
            Assert.True(rel <= Tolerance, $"{golden}, canvas {length}: max |Dllm − llama.cpp| = {diff:E2}, {rel:E2} of the largest |logit| {scale:F3} (tolerance {Tolerance:E0})");
        }
        output.WriteLine($"{golden} ({cpp.Architecture}): max relative logit difference {worst:E2}");
    }

    [Theory]
    [MemberData(nameof(Exportable))]
    public void Greedy_decoding_matches_llama_cpp(string golden)
    {
        using var dllm = Transformer.Load(TestPaths.Golden(golden.Split('/')));
        using var cpp = LlamaCppModel.Export(TestPaths.Golden(golden.Split('/')));
        int mask = dllm.Config.MaskTokenId;
        var options = new DecodingOptions { GenLength = 8, Steps = 8, BlockLength = 8 };
        var rng = new Random(99);
        for (int k = 0; k < 3; k++)
        {
            int[] prompt = [.. Enumerable.Range(0, 3 + 2 * k).Select(_ => rng.Next(mask))];
            GenerationResult ours = new DiffusionSampler(dllm, mask).Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
            GenerationResult theirs = new DiffusionSampler(cpp, mask).Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(ours.Canvas, theirs.Canvas);
            output.WriteLine($"{golden}: prompt [{string.Join(' ', prompt)}] → [{string.Join(' ', ours.Answer.ToArray())}] on both");
        }
    }

    [Theory]
    [InlineData("lladamoe/tiny", "q/k norms")]
    [InlineData("lladamoe/tiny-shared", "q/k norms")]
    public void Llada_moe_without_qk_norms_is_refused(string golden, string reason)
    {
        var e = Assert.Throws<NotSupportedException>(() => GgufExport.Write(TestPaths.Golden(golden.Split('/')), Path.Combine(TestPaths.TempDir(), "x.gguf")));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Causal_families_are_refused()
    {
        ModelConfig qwen = ModelConfig.Load(TestPaths.Golden("qwen", "qwen3-f32", "config.json"));
        var e = Assert.Throws<NotSupportedException>(() => GgufExport.ArchitectureOf(qwen));
        Assert.Contains("Qwen3", e.Message);
    }

    [Fact]
    public void Llada_q_k_rows_are_permuted_to_adjacent_pairs()
    {
        // one head of width 4 over 1 column: rows (0, 1 | 2, 3) = halves (x0, x1 | y0, y1) become x0 y0 x1 y1
        Assert.Equal([0f, 2f, 1f, 3f, 4f, 6f, 5f, 7f], GgufExport.PermuteRows([0, 1, 2, 3, 4, 5, 6, 7], heads: 2, headDim: 4, cols: 1));
    }
}

/// <summary>
/// A GGUF run by libllama, as an <see cref="IDenoisingModel"/>: one <c>llama_decode</c> of the whole
/// canvas per sequence, logits at every position (the diffusion architectures have no KV cache and
/// return every row). Dream's rows are shifted as its diffusion example does.
/// </summary>
internal sealed class LlamaCppModel : IDenoisingModel, IDisposable
{
    private const int MaxCanvas = 64;
    private readonly SafeLlamaModelHandle _model;
    private readonly SafeLLamaContextHandle _ctx;
    private readonly bool _shift;

    public string Architecture { get; }
    public int VocabSize { get; }
    public int MaxSequenceLength => MaxCanvas;

    private LlamaCppModel(string ggufPath, string architecture, bool shift)
    {
        Native.EnsureLoaded();
        Architecture = architecture;
        _shift = shift;
        LLamaModelParams mp = LLamaModelParams.Default();
        mp.n_gpu_layers = 0;
        try { _model = SafeLlamaModelHandle.LoadFromFile(ggufPath, mp); }
        catch (Exception e) { throw new InvalidOperationException($"libllama could not load {ggufPath} ({architecture}): {e.Message}\n{Native.RecentLog()}", e); }
        LLamaContextParams cp = LLamaContextParams.Default();
        cp.n_ctx = MaxCanvas;
        cp.n_batch = MaxCanvas;
        cp.n_ubatch = MaxCanvas;
        cp.n_seq_max = 1;
        cp.n_threads = 2;
        cp.n_threads_batch = 2;
        cp.embeddings = false;
        cp.llama_flash_attn_type = LLamaFlashAttentionType.LLAMA_FLASH_ATTENTION_TYPE_DISABLED;
        try { _ctx = SafeLLamaContextHandle.Create(_model, cp); }
        catch (Exception e) { _model.Dispose(); throw new InvalidOperationException($"libllama could not create a context for {ggufPath}: {e.Message}\n{Native.RecentLog()}", e); }
        VocabSize = _model.Vocab.Count;
    }

    /// <summary>Exports a Dllm checkpoint directory to a temporary GGUF and loads it.</summary>
    public static LlamaCppModel Export(string checkpointDirectory)
    {
        ModelConfig config = ModelConfig.Load(Path.Combine(checkpointDirectory, "config.json"));
        string path = Path.Combine(TestPaths.TempDir(), "model.gguf");
        GgufExport.Write(checkpointDirectory, path);
        try { return new LlamaCppModel(path, GgufExport.ArchitectureOf(config), config.ShiftLogits); }
        finally { File.Delete(path); }
    }

    /// <summary>Loads a GGUF file as is (e.g. one libllama quantized); <paramref name="config"/> says its architecture.</summary>
    public static LlamaCppModel Open(string ggufPath, ModelConfig config) => new(ggufPath, GgufExport.ArchitectureOf(config), config.ShiftLogits);

    /// <summary>libllama's own quantizer (<c>llama_model_quantize</c>); with <paramref name="pure"/> every matrix, the embedding
    /// and output included, in <paramref name="ftype"/>, else llama.cpp's own mix for the ftype (Q4_K_M: Q6_K output and
    /// some attn_v / ffn_down); norms stay F32.</summary>
    public static void Quantize(string input, string output, LLamaFtype ftype, bool pure = true)
    {
        Native.EnsureLoaded();
        LLamaModelQuantizeParams p = LLamaModelQuantizeParams.Default();
        p.ftype = ftype;
        p.pure = pure;
        p.nthread = 1;
        uint rc = NativeApi.llama_model_quantize(input, output, ref p);
        if (rc != 0) throw new InvalidOperationException($"llama_model_quantize returned {rc}\n{Native.RecentLog()}");
    }

    public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        if (length > MaxCanvas) throw new ArgumentException($"canvas {length} is longer than {MaxCanvas}");
        foreach (byte k in keyMask) if (k == 0) throw new NotSupportedException("padding keys: the libllama adapter runs one unpadded canvas per sequence");
        var b = new LLamaBatch();
        for (int s = 0; s < batch; s++)
        {
            b.Clear();
            for (int i = 0; i < length; i++) b.Add((LLamaToken)tokens[s * length + i], i, LLamaSeqId.Zero, true);
            DecodeResult r = _ctx.Decode(b);
            if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {r}\n{Native.RecentLog()}");
            for (int j = 0; j < positions.Length; j++)
            {
                int p = positions[j], row = _shift && p > 0 ? p - 1 : p;
                _ctx.GetLogitsIth(row).CopyTo(logits.Slice((s * positions.Length + j) * VocabSize, VocabSize));
            }
        }
    }

    public void Dispose()
    {
        _ctx.Dispose();
        _model.Dispose();
    }

    /// <summary>Loading the native library once, with its log kept for error messages (not printed).</summary>
    internal static class Native
    {
        private static readonly ConcurrentQueue<string> Log = new();
        private static readonly Lazy<Exception?> Loaded = new(Load);

        public static string RecentLog() => "libllama log (last lines):\n" + string.Join("", Log.TakeLast(30));

        public static void EnsureLoaded()
        {
            if (Loaded.Value is Exception e)
                throw new InvalidOperationException(
                    $"llama.cpp's native library (LLamaSharp.Backend.Cpu 0.30.0) could not be loaded on {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier}: {e.GetBaseException().Message.Trim().TrimEnd('.')}. " +
                    "These tests need it; check that the package restored its runtimes/<rid>/native files next to the test binary.", e);
        }

        private static Exception? Load()
        {
            try
            {
                NativeLibraryConfig.All.WithLogCallback((level, message) =>
                {
                    Log.Enqueue(message);
                    while (Log.Count > 200) Log.TryDequeue(out _);
                });
                NativeApi.llama_max_devices(); // the first call loads the library (and runs llama_backend_init)
                return null;
            }
            catch (Exception e) { return e; }
        }
    }
}
