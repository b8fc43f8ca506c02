using System.Runtime.InteropServices;
using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.IO;

/// <summary>
/// Loads a GGUF file of llama.cpp's <c>llada</c> architecture (as its converter, <c>convert_hf_to_gguf.py</c>, or
/// <see cref="GgufExport"/> writes it) as a <see cref="Transformer"/>: the config from the <c>llada.*</c> and
/// <c>tokenizer.ggml.*</c> metadata, the tensors by llama.cpp's names (<c>token_embd</c>, <c>blk.N.attn_q</c>, …,
/// <c>output_norm</c>, <c>output</c>; no <c>output</c> means a tied head), bound through
/// <see cref="TransformerWeights.Bind(ModelConfig, Func{string, int, int, MatrixView}, Func{string, int, ReadOnlyMemory{float}}, Func{string, int, ReadOnlyMemory{float}})"/>.
/// <para>Matrices stay in the mapping in their stored type (F32, F16, BF16, Q8_0, Q4_0), except attn_q and attn_k:
/// the converter permuted their rows per head for llama.cpp's adjacent-pair RoPE (<see cref="GgufExport.PermuteRows"/>),
/// so they are copied once, rows put back in the Hugging Face order (still in their stored type), into native memory
/// owned by the model. Norm weights are widened to float32 copies.</para>
/// <para>Only the weights are read: the GGUF's tokenizer is not (use the token-id interfaces, or keep the Hugging Face
/// tokenizer next to it). Other architectures (dream, llada-moe, causal models) are refused by name.</para>
/// </summary>
public static class GgufModel
{
    /// <summary>The architecture this reader understands.</summary>
    public const string Architecture = "llada";

    /// <summary>True when <paramref name="path"/> names an existing file ending in <c>.gguf</c> (any case): what
    /// <see cref="Transformer.Load"/> and the CLI's <c>--model</c> treat as a GGUF rather than a checkpoint directory.</summary>
    public static bool IsGgufPath(string path) => path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) && File.Exists(path);

    /// <summary>Maps and binds <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">A corrupt file, missing or misshapen tensor or metadata, or a tensor the model does not use.</exception>
    /// <exception cref="NotSupportedException">Another architecture, or a tensor type Dllm cannot compute with.</exception>
    public static Transformer Load(string path)
    {
        GgufFile f = GgufFile.Open(path);
        var owned = new Owner(f);
        try
        {
            ModelConfig c = ConfigOf(f);
            return new Transformer(c, Bind(c, f, owned), owned);
        }
        catch
        {
            owned.Dispose();
            throw;
        }
    }

    /// <summary>The <see cref="ModelConfig"/> a llada GGUF describes.</summary>
    /// <exception cref="InvalidDataException">Required metadata missing or inconsistent.</exception>
    /// <exception cref="NotSupportedException">general.architecture is not llada.</exception>
    public static ModelConfig ConfigOf(GgufFile f)
    {
        string arch = f.GetString("general.architecture");
        if (arch != Architecture)
            throw new NotSupportedException($"{f.Path}: GGUF architecture '{arch}' is not supported (Dllm reads '{Architecture}' GGUF files; convert other models from their Hugging Face directory)");
        string a = arch + ".";
        int d = f.GetCount(a + "embedding_length"), heads = f.GetCount(a + "attention.head_count");
        if (heads == 0 || d % heads != 0) throw new InvalidDataException($"{f.Path}: {a}embedding_length {d} is not a multiple of {a}attention.head_count {heads}");
        int? keyLength = f.TryGetCount(a + "attention.key_length");
        int vocab = (int)f.Get("token_embd.weight").Shape[0];
        int Token(string key, int fallback)
        {
            int id = f.TryGetCount("tokenizer.ggml." + key) ?? fallback;
            return id < vocab ? id : throw new InvalidDataException($"{f.Path}: tokenizer.ggml.{key} {id} is outside the vocabulary of {vocab} (token_embd rows)");
        }
        var defaults = new ModelConfig { DModel = 1, NHeads = 1, NLayers = 1, VocabSize = 1 };
        int eos = Token("eos_token_id", defaults.EosTokenId);
        var c = new ModelConfig
        {
            DModel = d, NHeads = heads, NKvHeads = f.TryGetCount(a + "attention.head_count_kv") ?? heads,
            NLayers = f.GetCount(a + "block_count"), MlpHiddenSize = f.GetCount(a + "feed_forward_length"),
            ExplicitHeadDim = keyLength is int k && k != d / heads ? k : null,
            VocabSize = vocab, EmbeddingSize = vocab, MaxSequenceLength = f.TryGetCount(a + "context_length") ?? defaults.MaxSequenceLength,
            RopeTheta = f.GetFloat(a + "rope.freq_base", 10000), RmsNormEps = f.GetFloat(a + "attention.layer_norm_rms_epsilon", 1e-5),
            EosTokenId = eos, PadTokenId = Token("padding_token_id", eos), MaskTokenId = Token("mask_token_id", defaults.MaskTokenId),
            BosTokenId = f.TryGetCount("tokenizer.ggml.bos_token_id") is int bos ? Token("bos_token_id", bos) : null,
            WeightTying = !f.Contains("output.weight"),
            SourcePath = f.Path,
        };
        try { c.Validate(); }
        catch (Exception e) when (e is ArgumentException or InvalidDataException) { throw new InvalidDataException($"{f.Path}: {e.Message}", e); }
        return c;
    }

    private static TransformerWeights Bind(ModelConfig c, GgufFile f, Owner owned)
    {
        WeightNames n = c.Names;
        var used = new HashSet<string>(StringComparer.Ordinal);
        string Use(string gguf) { used.Add(gguf); return gguf; }
        // Hugging Face name -> (GGUF name, heads whose rows the converter permuted; 0 = none)
        (string Name, int Heads) Map(string hf)
        {
            if (hf == n.Embedding) return ("token_embd.weight", 0);
            if (hf == n.FinalNorm) return ("output_norm.weight", 0);
            if (hf == n.Head) return ("output.weight", 0);
            for (int i = 0; i < c.NLayers; i++)
            {
                string p = string.Format(n.Block, i), b = $"blk.{i}.";
                if (!hf.StartsWith(p, StringComparison.Ordinal)) continue;
                string s = hf[p.Length..];
                if (s == n.AttnNorm) return (b + "attn_norm.weight", 0);
                if (s == n.Q + ".weight") return (b + "attn_q.weight", c.NHeads);
                if (s == n.K + ".weight") return (b + "attn_k.weight", c.KvHeads);
                if (s == n.V + ".weight") return (b + "attn_v.weight", 0);
                if (s == n.AttnOut) return (b + "attn_output.weight", 0);
                if (s == n.FfNorm) return (b + "ffn_norm.weight", 0);
                if (s == n.Gate) return (b + "ffn_gate.weight", 0);
                if (s == n.Up) return (b + "ffn_up.weight", 0);
                if (s == n.Down) return (b + "ffn_down.weight", 0);
            }
            throw new NotSupportedException($"{f.Path}: the llada GGUF layout has no tensor for '{hf}'");
        }
        MatrixView Matrix(string hf, int rows, int cols)
        {
            var (name, heads) = Map(hf);
            MatrixView v = f.GetMatrix(Use(name), rows, cols);
            return heads == 0 ? v : owned.Unpermuted(v, f.Get(name).ByteLength, c.HeadDim);
        }
        ReadOnlyMemory<float> Vector(string hf, int length) => f.ReadSingle(Use(Map(hf).Name), length);
        TransformerWeights w = TransformerWeights.Bind(c, Matrix, Vector, Vector);
        string? unused = f.Tensors.Keys.Where(k => !used.Contains(k)).Order(StringComparer.Ordinal).FirstOrDefault();
        if (unused != null)
            throw new InvalidDataException($"{f.Path}: tensor '{unused}' is not part of the llada model its metadata describes (does {Architecture}.block_count {c.NLayers} match the file?)");
        return w;
    }

    /// <summary>The mapping plus the native copies of the un-permuted q/k matrices.</summary>
    private sealed unsafe class Owner(GgufFile file) : IDisposable
    {
        private readonly List<nint> _blocks = [];

        /// <summary>A copy of <paramref name="v"/> with its rows in the Hugging Face order (<see cref="GgufExport.UnpermuteRow"/>).</summary>
        public MatrixView Unpermuted(MatrixView v, long bytes, int headDim)
        {
            long rowBytes = bytes / v.Rows;
            byte* dst = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64);
            _blocks.Add((nint)dst);
            for (int r = 0; r < v.Rows; r++)
                Buffer.MemoryCopy((byte*)v.Data + GgufExport.UnpermuteRow(r, headDim) * rowBytes, dst + r * rowBytes, rowBytes, rowBytes);
            return MatrixView.RowMajor((nint)dst, v.DType, v.Rows, v.Cols);
        }

        public void Dispose()
        {
            file.Dispose();
            foreach (nint p in _blocks) NativeMemory.AlignedFree((void*)p);
            _blocks.Clear();
        }
    }
}
