using System.Collections.Concurrent;
using Dllm.IO;
using Dllm.Model;
using LLama.Native;

namespace Dllm.Tests.Reference;

/// <summary>
/// A GGUF run by libllama, as an <see cref="IDenoisingModel"/>: one <c>llama_decode</c> of the whole
/// canvas per sequence, logits at every position (the diffusion architectures have no KV cache and
/// return every row). Dream's rows are shifted as its diffusion example does.
/// </summary>
/// <remarks>
/// Shared by the reference tests and <c>bench/Dllm.Bench</c> (linked into it; the bench's <c>vsllama</c> mode times this
/// class's <see cref="Logits"/> against Dllm's): flash attention off, one context whose batch and ubatch are
/// <see cref="MaxSequenceLength"/> so a whole canvas is one ubatch, <see cref="Threads"/> for both of libllama's thread counts.
/// </remarks>
internal sealed class LlamaCppModel : IDenoisingModel, IDisposable
{
    /// <summary>The canvas the tests need (their longest is 32); the bench asks for its longest canvas.</summary>
    public const int DefaultMaxCanvas = 64;
    private readonly SafeLlamaModelHandle _model;
    private readonly SafeLLamaContextHandle _ctx;
    private readonly bool _shift;

    public string Architecture { get; }
    public int VocabSize { get; }
    public int MaxSequenceLength { get; }

    /// <summary>libllama's threads for a batch and for a single token (set together: a canvas is a batch).</summary>
    public int Threads
    {
        get => (int)_ctx.BatchThreads;
        set { _ctx.GenerationThreads = value; _ctx.BatchThreads = value; }
    }

    private LlamaCppModel(string ggufPath, string architecture, bool shift, int maxCanvas, int threads)
    {
        Native.EnsureLoaded();
        Architecture = architecture;
        _shift = shift;
        MaxSequenceLength = maxCanvas;
        LLamaModelParams mp = LLamaModelParams.Default();
        mp.n_gpu_layers = 0;
        try { _model = SafeLlamaModelHandle.LoadFromFile(ggufPath, mp); }
        catch (Exception e) { throw new InvalidOperationException($"libllama could not load {ggufPath} ({architecture}): {e.Message}\n{Native.RecentLog()}", e); }
        LLamaContextParams cp = LLamaContextParams.Default();
        cp.n_ctx = (uint)maxCanvas;
        cp.n_batch = (uint)maxCanvas;
        cp.n_ubatch = (uint)maxCanvas;
        cp.n_seq_max = 1;
        cp.n_threads = threads;
        cp.n_threads_batch = threads;
        cp.embeddings = false;
        cp.llama_flash_attn_type = LLamaFlashAttentionType.LLAMA_FLASH_ATTENTION_TYPE_DISABLED;
        try { _ctx = SafeLLamaContextHandle.Create(_model, cp); }
        catch (Exception e) { _model.Dispose(); throw new InvalidOperationException($"libllama could not create a context for {ggufPath}: {e.Message}\n{Native.RecentLog()}", e); }
        VocabSize = _model.Vocab.Count;
    }

    /// <summary>Exports a Dllm checkpoint directory to a temporary GGUF (deleted once loaded) and loads it.</summary>
    public static LlamaCppModel Export(string checkpointDirectory)
    {
        ModelConfig config = ModelConfig.Load(Path.Combine(checkpointDirectory, "config.json"));
        string path = Path.Combine(Path.GetTempPath(), $"dllm-llamacpp-{Guid.NewGuid():N}.gguf");
        try
        {
            GgufExport.Write(checkpointDirectory, path);
            return new LlamaCppModel(path, GgufExport.ArchitectureOf(config), config.ShiftLogits, DefaultMaxCanvas, threads: 2);
        }
        finally { File.Delete(path); }
    }

    /// <summary>Loads a GGUF file as is (e.g. one libllama quantized); <paramref name="config"/> says its architecture.
    /// <paramref name="maxCanvas"/>: the longest canvas <see cref="Logits"/> will take (the context is sized for it).</summary>
    public static LlamaCppModel Open(string ggufPath, ModelConfig config, int maxCanvas = DefaultMaxCanvas, int threads = 2) =>
        new(ggufPath, GgufExport.ArchitectureOf(config), config.ShiftLogits, maxCanvas, threads);

    /// <summary>libllama's <c>llama_print_system_info</c>: the CPU features its loaded ggml build uses (LLamaSharp's backend
    /// ships noavx/avx/avx2/avx512 builds and loads the best the CPU runs), for benchmark headers.</summary>
    public static string SystemInfo()
    {
        Native.EnsureLoaded();
        return (System.Runtime.InteropServices.Marshal.PtrToStringUTF8(NativeApi.llama_print_system_info()) ?? "").Trim();
    }

    /// <summary>libllama's own quantizer (<c>llama_model_quantize</c>); with <paramref name="pure"/> every matrix, the embedding
    /// and output included, in <paramref name="ftype"/>, else llama.cpp's own mix for the ftype (Q4_K_M: Q6_K output and
    /// some attn_v / ffn_down); norms stay F32. <paramref name="threads"/>: libllama's quantizing threads (1 in the tests:
    /// small files; the bench's llamaquantize mode uses every core).</summary>
    public static void Quantize(string input, string output, LLamaFtype ftype, bool pure = true, int threads = 1)
    {
        Native.EnsureLoaded();
        LLamaModelQuantizeParams p = LLamaModelQuantizeParams.Default();
        p.ftype = ftype;
        p.pure = pure;
        p.nthread = threads;
        uint rc = NativeApi.llama_model_quantize(input, output, ref p);
        if (rc != 0) throw new InvalidOperationException($"llama_model_quantize returned {rc}\n{Native.RecentLog()}");
    }

    public void Logits(ReadOnlySpan<int> tokens, int batch, int length, ReadOnlySpan<int> positions,
        Span<float> logits, ReadOnlySpan<byte> keyMask = default)
    {
        if (length > MaxSequenceLength) throw new ArgumentException($"canvas {length} is longer than {MaxSequenceLength}");
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
                    "The reference tests and the bench's vsllama mode need it; check that the package restored its runtimes/<rid>/native files next to the test binary.", e);
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
