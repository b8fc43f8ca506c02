using System.Runtime.InteropServices;
using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.IO;

/// <summary>
/// Loads a GGUF file of llama.cpp's <c>llada</c>, <c>dream</c> or <c>llada-moe</c> architecture (as its converter,
/// <c>convert_hf_to_gguf.py</c>, or <see cref="GgufExport"/> writes it) as a <see cref="Transformer"/>: the config from the
/// <c>{arch}.*</c> and <c>tokenizer.ggml.*</c> metadata (<see cref="ConfigOf"/>), the tensors by llama.cpp's names
/// (llama-arch.cpp: <c>token_embd</c>, <c>blk.N.attn_{norm,q,k,v,output}</c>, Dream's <c>attn_{q,k,v}.bias</c>,
/// LLaDA-MoE's <c>attn_{q,k}_norm</c>, <c>ffn_gate_inp</c> and stacked <c>ffn_{gate,up,down}_exps</c> [E, out, in],
/// <c>ffn_norm</c>, <c>ffn_{gate,up,down}</c>, <c>output_norm</c>, <c>output</c>; no <c>output</c> means a tied head),
/// bound through <see cref="TransformerWeights.Bind(ModelConfig, Func{string, int, int, MatrixView}, Func{string, int, ReadOnlyMemory{float}}, Func{string, int, ReadOnlyMemory{float}})"/>.
/// <para>Matrices stay in the mapping in their stored type (F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K); expert j of a stacked
/// tensor is a view of its j-th [out, in] slice. The exception is llada's attn_q and attn_k: the converter permuted
/// their rows per head for llama.cpp's adjacent-pair RoPE (<see cref="GgufExport.PermuteRows"/>), so they are copied
/// once, rows put back in the Hugging Face order (still in their stored type), into native memory owned by the model;
/// a quantized one that is packed at load (<see cref="Transformer.PackWeightsAtLoad"/>) is not copied: the packing reads
/// its rows in Hugging Face order straight from the file. dream and llada-moe use the NEOX (halves) rotation, as the
/// Hugging Face models do, and are not permuted. Norm weights and biases are widened to float32 copies. Every linear
/// weight is then packed at load as a checkpoint's are, and the file's pages it was read from released.</para>
/// <para>Only the weights are read here; the file's tokenizer is read by <see cref="Dllm.Text.TokenizerLoader"/> (byte-level
/// BPE only; see <see cref="Dllm.Text.GgufTokenizer"/>). Other architectures (causal models) are refused by name; a tensor the config does not call
/// for, or one missing or misshapen, is one line naming it.</para>
/// </summary>
public static partial class GgufModel
{
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
        Transformer? model = null;
        try
        {
            ModelConfig c = ConfigOf(f);
            bool pack = Transformer.PackWeightsAtLoad; // read once: the bind and the packing must agree
            model = new Transformer(c, Bind(c, f, owned, pack), owned);
            // The un-permuted q/k copies are not the file's pages: they are packed but never released. A quantized q/k
            // left permuted in the file is packed in Hugging Face row order.
            if (pack) model.PackWeights(w => !owned.IsCopy(w.Data), owned.SourceRows);
            return model;
        }
        catch
        {
            if (model is null) owned.Dispose(); else model.Dispose();
            throw;
        }
    }

    /// <summary>Where a Hugging Face tensor lives in the GGUF: its name, the heads whose rows the converter permuted
    /// (0 = none), and for a stacked expert tensor the expert's index (−1 = a whole tensor).</summary>
    private readonly record struct Place(string Name, int PermuteHeads = 0, int Expert = -1);

    private static TransformerWeights Bind(ModelConfig c, GgufFile f, Owner owned, bool pack)
    {
        WeightNames n = c.Names;
        string arch = f.GetString("general.architecture");
        bool permute = arch == "llada"; // llama.cpp's llada graph rotates adjacent pairs; dream and llada-moe rotate halves
        var used = new HashSet<string>(StringComparer.Ordinal);
        Place Map(string hf)
        {
            if (hf == n.Embedding) return new("token_embd.weight");
            if (hf == n.FinalNorm) return new("output_norm.weight");
            if (hf == n.Head) return new("output.weight");
            for (int i = 0; i < c.NLayers; i++)
            {
                string p = string.Format(n.Block, i), b = $"blk.{i}.";
                if (!hf.StartsWith(p, StringComparison.Ordinal)) continue;
                string s = hf[p.Length..];
                if (s == n.AttnNorm) return new(b + "attn_norm.weight");
                if (s == n.Q + ".weight") return new(b + "attn_q.weight", permute ? c.NHeads : 0);
                if (s == n.K + ".weight") return new(b + "attn_k.weight", permute ? c.KvHeads : 0);
                if (s == n.V + ".weight") return new(b + "attn_v.weight");
                if (s == n.Q + ".bias") return new(b + "attn_q.bias");
                if (s == n.K + ".bias") return new(b + "attn_k.bias");
                if (s == n.V + ".bias") return new(b + "attn_v.bias");
                if (s == n.QNorm) return new(b + "attn_q_norm.weight");
                if (s == n.KNorm) return new(b + "attn_k_norm.weight");
                if (s == n.AttnOut) return new(b + "attn_output.weight");
                if (s == n.FfNorm) return new(b + "ffn_norm.weight");
                if (s == n.Gate) return new(b + "ffn_gate.weight");
                if (s == n.Up) return new(b + "ffn_up.weight");
                if (s == n.Down) return new(b + "ffn_down.weight");
                if (s == "mlp.gate.weight") return new(b + "ffn_gate_inp.weight"); // the router (MoeWeights)
                // mlp.experts.{j}.{gate,up,down}_proj.weight -> slice j of ffn_{gate,up,down}_exps
                string[] e = s.Split('.');
                if (e.Length == 5 && e[0] == "mlp" && e[1] == "experts" && int.TryParse(e[2], out int j) && e[4] == "weight" && e[3] is "gate_proj" or "up_proj" or "down_proj")
                    return new($"{b}ffn_{e[3][..^5]}_exps.weight", Expert: j);
            }
            throw new NotSupportedException($"{f.Path}: the {arch} GGUF layout has no tensor for '{hf}'");
        }
        MatrixView Matrix(string hf, int rows, int cols)
        {
            Place at = Map(hf);
            used.Add(at.Name);
            if (at.Expert >= 0) return f.GetStackedMatrix(at.Name, c.Moe!.Experts, at.Expert, rows, cols);
            MatrixView v = f.GetMatrix(at.Name, rows, cols);
            if (at.PermuteHeads == 0) return v;
            // A quantized q/k that will be packed at load is un-permuted by the packing itself (no copy beside the file).
            if (pack && v.DType.IsQuantized() && PackedWeight.CanPack(v)) return owned.PermutedView(v, c.HeadDim);
            return owned.Unpermuted(v, f.Get(at.Name).ByteLength, c.HeadDim);
        }
        ReadOnlyMemory<float> Vector(string hf, int length)
        {
            string name = Map(hf).Name;
            used.Add(name);
            return f.ReadSingle(name, length);
        }
        TransformerWeights w = TransformerWeights.Bind(c, Matrix, Vector, Vector);
        string? unused = f.Tensors.Keys.Where(k => !used.Contains(k)).Order(StringComparer.Ordinal).FirstOrDefault();
        if (unused != null)
            throw new InvalidDataException($"{f.Path}: tensor '{unused}' is not part of the {arch} model its metadata describes (does {arch}.block_count {c.NLayers} match the file?)");
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

        /// <summary>Whether <paramref name="data"/> is one of the native copies (not a view of the file).</summary>
        public bool IsCopy(nint data) => _blocks.Contains(data);

        private readonly Dictionary<nint, int> _permuted = [];

        /// <summary>The file's q/k view with its rows still in the converter's order, noted so that
        /// <see cref="SourceRows"/> gives the packing the Hugging Face order. Only for a weight packed at load: the
        /// kernels read the packing, never this view.</summary>
        public MatrixView PermutedView(MatrixView v, int headDim)
        {
            _permuted[v.Data] = headDim;
            return v;
        }

        /// <summary>For a <see cref="PermutedView"/>: the file row that holds Hugging Face row r; else null (rows in order).</summary>
        public Func<int, int>? SourceRows(MatrixView w) =>
            _permuted.TryGetValue(w.Data, out int headDim) ? r => (int)GgufExport.UnpermuteRow(r, headDim) : null;

        public void Dispose()
        {
            file.Dispose();
            foreach (nint p in _blocks) NativeMemory.AlignedFree((void*)p);
            _blocks.Clear();
        }
    }
}
