using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.IO;

/// <summary>
/// Writes a Dllm checkpoint as an F32 GGUF file under llama.cpp's tensor names and metadata, so that
/// llama.cpp's <c>libllama</c> can run it as an outside reference. Three of its architectures match a
/// Dllm family: <c>llada</c> (LLaDA), <c>dream</c> (Dream) and <c>llada-moe</c> (LLaDA-MoE).
/// </summary>
/// <remarks>
/// <para>What it writes follows llama.cpp's own converter (<c>convert_hf_to_gguf.py</c>): <c>token_embd</c>,
/// <c>blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down}</c>
/// (+ <c>.bias</c> of q/k/v for Dream; <c>attn_q_norm</c>, <c>attn_k_norm</c>, <c>ffn_gate_inp</c> and the
/// stacked experts <c>ffn_{gate,up,down}_exps</c> [E × out × in] for LLaDA-MoE), <c>output_norm</c>,
/// <c>output</c> (the embedding again when tied). Every tensor is widened to float32, except a matrix stored Q8_0 or
/// Q4_0 (a <c>dllm quantize</c> checkpoint), which is written as is: ggml's block layouts are the ones Dllm stores
/// (a layer's experts are stacked in their quantized type when all of them share it).</para>
/// <para>LLaDA's q/k rows are permuted per head (pairs (i, i + hd/2) become adjacent rows 2i, 2i + 1), as
/// llama.cpp's converter does: its <c>llada</c> graph rotates adjacent pairs while the Hugging Face model
/// rotates halves. Dream and LLaDA-MoE use the NEOX (halves) rotation and are written unpermuted.</para>
/// <para>The rope base is always written (<c>{arch}.rope.freq_base</c> missing silently means 10000). The
/// tokenizer is the checkpoint's own when GGUF can carry it (a byte-level BPE tokenizer.json whose pre-tokenizer
/// llama.cpp names, or Dllm's byte tokenizer), otherwise a placeholder of the right size (<c>gpt2</c> model, tokens
/// <c>t0</c>..<c>tN</c>, no merges) that takes token ids, not text: see <see cref="GgufTokenizerExport"/>.</para>
/// </remarks>
public static class GgufExport
{
    /// <summary>The llama.cpp architecture a config exports as ("llada", "dream", "llada-moe").</summary>
    /// <exception cref="NotSupportedException">The family or a feature has no llama.cpp counterpart; the message says which.</exception>
    public static string ArchitectureOf(ModelConfig c)
    {
        NotSupportedException No(string why) => new($"cannot export {c.Spec.Name} to GGUF: {why}");
        if (c.Kind != ModelKind.MaskedDiffusion || c.Attention != AttentionKind.Bidirectional)
            throw No($"llama.cpp's diffusion architectures are bidirectional masked diffusion models; this is model_kind {c.KindName}, attention {c.AttentionName}");
        if (c.IncludeOutBias) throw No("an o_proj bias has no llama.cpp tensor in these architectures");
        if (c.ScaleLogits || c.InputEmbNorm) throw No("scale_logits / input_emb_norm have no llama.cpp counterpart");
        if (c.HeadDim * c.NHeads != c.DModel) throw No($"head_dim {c.HeadDim} · n_heads {c.NHeads} is not d_model {c.DModel}");
        switch (c.Family)
        {
            case ModelFamily.Llada:
                if (c.IncludeQkvBias) throw No("llama.cpp's llada architecture has no q/k/v biases");
                if (c.QkNorm) throw No("llama.cpp's llada architecture has no q/k norms");
                return "llada";
            case ModelFamily.Dream:
                return "dream";
            case ModelFamily.LladaMoe:
                MoeConfig m = c.Moe!;
                if (!c.QkNorm) throw No("llama.cpp's llada-moe architecture requires per-head q/k norms (qk_layernorm true); RMS-normalising with unit weights is not the identity, so a model without them cannot be expressed");
                if (m.Router != RouterScoring.LladaMoeSoftmax) throw No($"llama.cpp's llada-moe architecture has softmax gating, not the {m.Router} router");
                if (m.SharedExpertHidden > 0) throw No("llama.cpp's llada-moe architecture has no shared expert");
                if (m.ExpertBias) throw No("llama.cpp's llada-moe architecture has no router expert bias");
                if (m.HasDenseLayer) throw No("llama.cpp's llada-moe architecture makes every layer a mixture of experts (moe_layer_freq has a dense layer)");
                return "llada-moe";
            default:
                throw No($"llama.cpp's {c.Spec.ModelType} architecture is a causal LM, not one of the diffusion architectures exported (llada, dream, llada-moe)");
        }
    }

    /// <summary>Exports the Hugging Face directory <paramref name="checkpointDirectory"/> (config.json + safetensors, and its
    /// tokenizer files when present) to <paramref name="ggufPath"/>.</summary>
    /// <returns>One line saying which tokenizer was written (the real one or the placeholder, and why).</returns>
    /// <exception cref="NotSupportedException">See <see cref="ArchitectureOf"/>.</exception>
    /// <exception cref="InvalidDataException">The config, a tensor or the tokenizer files are invalid.</exception>
    public static string Write(string checkpointDirectory, string ggufPath)
    {
        ModelConfig config = ModelConfig.Load(Path.Combine(checkpointDirectory, "config.json"));
        using Checkpoint ckpt = Checkpoint.Open(checkpointDirectory);
        return Write(config, ckpt, ggufPath);
    }

    /// <summary>Exports <paramref name="ckpt"/>, described by <paramref name="c"/>, to <paramref name="ggufPath"/>.</summary>
    /// <returns>One line saying which tokenizer was written.</returns>
    /// <exception cref="NotSupportedException">See <see cref="ArchitectureOf"/>.</exception>
    /// <exception cref="InvalidDataException">A tensor the config calls for is missing, misshapen or left unused.</exception>
    public static string Write(ModelConfig c, Checkpoint ckpt, string ggufPath)
    {
        GgufWriter g = Build(c, ckpt, out string tokenizer);
        g.Write(ggufPath);
        return tokenizer;
    }

    /// <summary>The GGUF contents of <paramref name="ckpt"/> (metadata and tensors), unwritten.</summary>
    public static GgufWriter Build(ModelConfig c, Checkpoint ckpt) => Build(c, ckpt, out _);

    /// <summary>The GGUF contents of <paramref name="ckpt"/>, unwritten; <paramref name="tokenizer"/> says which tokenizer they hold.</summary>
    public static GgufWriter Build(ModelConfig c, Checkpoint ckpt, out string tokenizer)
    {
        c.Validate();
        string arch = ArchitectureOf(c);
        TransformerWeights.Bind(c, ckpt); // every tensor present, shaped as the config says, none left over

        int d = c.DModel, hd = c.HeadDim, q = c.NHeads * hd, kv = c.KvHeads * hd, vocab = c.EmbeddingRows;
        var g = new GgufWriter();
        g.AddString("general.architecture", arch)
         .AddString("general.name", Path.GetFileName(Path.TrimEndingDirectorySeparator(ckpt.Directory)))
         .AddUInt32("general.alignment", GgufWriter.Alignment)
         .AddUInt32($"{arch}.context_length", (uint)c.MaxSequenceLength)
         .AddUInt32($"{arch}.embedding_length", (uint)d)
         .AddUInt32($"{arch}.block_count", (uint)c.NLayers)
         .AddUInt32($"{arch}.feed_forward_length", (uint)(c.MlpHiddenSize > 0 ? c.MlpHiddenSize : c.Moe!.ExpertHidden))
         .AddUInt32($"{arch}.attention.head_count", (uint)c.NHeads)
         .AddUInt32($"{arch}.attention.head_count_kv", (uint)c.KvHeads)
         .AddUInt32($"{arch}.attention.key_length", (uint)hd)
         .AddUInt32($"{arch}.attention.value_length", (uint)hd)
         .AddFloat32($"{arch}.attention.layer_norm_rms_epsilon", (float)c.RmsNormEps)
         .AddFloat32($"{arch}.rope.freq_base", (float)c.RopeTheta)
         .AddUInt32($"{arch}.rope.dimension_count", (uint)hd)
         .AddUInt32($"{arch}.vocab_size", (uint)vocab)
         .AddBool($"{arch}.attention.causal", false);
        if (c.Moe is MoeConfig m)
            g.AddUInt32($"{arch}.expert_count", (uint)m.Experts)
             .AddUInt32($"{arch}.expert_used_count", (uint)m.TopK)
             .AddUInt32($"{arch}.expert_feed_forward_length", (uint)m.ExpertHidden);
        g.AddBool("diffusion.shift_logits", c.ShiftLogits);
        tokenizer = GgufTokenizerExport.Add(g, c, ckpt.Directory);

        WeightNames n = c.Names;
        float[] Read(string name) => ckpt.ReadSingle(name);
        // A matrix keeps a quantized stored type (a `dllm quantize` checkpoint) byte for byte; anything else is widened to F32.
        void Matrix(string gguf, string name, long rows, long cols, int permuteHeads = 0)
        {
            TensorInfo t = ckpt.Get(name);
            if (!t.DType.IsQuantized())
            {
                g.AddTensor(gguf, [rows, cols], permuteHeads > 0 ? PermuteRows(Read(name), permuteHeads, hd, (int)cols) : Read(name));
                return;
            }
            byte[] raw = new byte[t.ByteLength];
            unsafe { new ReadOnlySpan<byte>((void*)ckpt.GetPointer(name), raw.Length).CopyTo(raw); }
            g.AddTensor(gguf, [rows, cols], t.DType, permuteHeads > 0 ? PermuteRowBytes(raw, permuteHeads, hd, (int)(raw.Length / rows)) : raw);
        }
        // The experts of a layer stacked [E, rows, cols], expert after expert: their common quantized type kept, else F32.
        void Experts(string gguf, int count, long rows, long cols, Func<int, string> name)
        {
            DType t = ckpt.Get(name(0)).DType;
            bool keep = t.IsQuantized() && Enumerable.Range(0, count).All(j => ckpt.Get(name(j)).DType == t);
            if (!keep) { g.AddTensor(gguf, [count, rows, cols], Stack(count, j => Read(name(j)))); return; }
            g.AddTensor(gguf, [count, rows, cols], t, Stack(count, j =>
            {
                TensorInfo x = ckpt.Get(name(j));
                byte[] raw = new byte[x.ByteLength];
                unsafe { new ReadOnlySpan<byte>((void*)ckpt.GetPointer(name(j)), raw.Length).CopyTo(raw); }
                return raw;
            }));
        }
        Matrix("token_embd.weight", n.Embedding, vocab, d);
        for (int i = 0; i < c.NLayers; i++)
        {
            string p = string.Format(n.Block, i), b = $"blk.{i}.";
            bool permute = c.Family == ModelFamily.Llada;
            g.AddTensor(b + "attn_norm.weight", [d], Read(p + n.AttnNorm));
            Matrix(b + "attn_q.weight", p + n.Q + ".weight", q, d, permute ? c.NHeads : 0);
            Matrix(b + "attn_k.weight", p + n.K + ".weight", kv, d, permute ? c.KvHeads : 0);
            Matrix(b + "attn_v.weight", p + n.V + ".weight", kv, d);
            if (c.IncludeQkvBias)
            {
                g.AddTensor(b + "attn_q.bias", [q], Read(p + n.Q + ".bias"));
                g.AddTensor(b + "attn_k.bias", [kv], Read(p + n.K + ".bias"));
                g.AddTensor(b + "attn_v.bias", [kv], Read(p + n.V + ".bias"));
            }
            if (c.QkNorm)
            {
                g.AddTensor(b + "attn_q_norm.weight", [hd], Read(p + n.QNorm));
                g.AddTensor(b + "attn_k_norm.weight", [hd], Read(p + n.KNorm));
            }
            Matrix(b + "attn_output.weight", p + n.AttnOut, d, q);
            g.AddTensor(b + "ffn_norm.weight", [d], Read(p + n.FfNorm));
            if (c.Moe is MoeConfig moe && moe.IsMoeLayer(i))
            {
                string mlp = p + "mlp.";
                int e = moe.Experts, h = moe.ExpertHidden;
                g.AddTensor(b + "ffn_gate_inp.weight", [e, d], Read(mlp + "gate.weight"));
                Experts(b + "ffn_gate_exps.weight", e, h, d, j => $"{mlp}experts.{j}.gate_proj.weight");
                Experts(b + "ffn_up_exps.weight", e, h, d, j => $"{mlp}experts.{j}.up_proj.weight");
                Experts(b + "ffn_down_exps.weight", e, d, h, j => $"{mlp}experts.{j}.down_proj.weight");
            }
            else
            {
                Matrix(b + "ffn_gate.weight", p + n.Gate, c.MlpHiddenSize, d);
                Matrix(b + "ffn_up.weight", p + n.Up, c.MlpHiddenSize, d);
                Matrix(b + "ffn_down.weight", p + n.Down, d, c.MlpHiddenSize);
            }
        }
        g.AddTensor("output_norm.weight", [d], Read(n.FinalNorm));
        Matrix("output.weight", c.WeightTying ? n.Embedding : n.Head, vocab, d);
        return g;
    }

    /// <summary>
    /// The rows of a q or k projection [heads·hd × in] reordered per head so that the pair llama.cpp's
    /// adjacent-pair RoPE rotates together (rows 2i, 2i + 1) is the pair the half-rotation rotates
    /// (rows i, i + hd/2): new row h·hd + 2i + j is old row h·hd + j·hd/2 + i.
    /// </summary>
    /// <remarks>A quantized matrix is permuted by <see cref="PermuteRowBytes"/> (rows are whole blocks, so moving rows moves
    /// blocks). <see cref="GgufModel"/> undoes it with <see cref="UnpermuteRow"/>.</remarks>
    public static float[] PermuteRows(float[] w, int heads, int headDim, int cols) => Permute(w, heads, headDim, cols);

    /// <summary><see cref="PermuteRows"/> over the bytes of a matrix of any stored type, <paramref name="rowBytes"/> per row.</summary>
    public static byte[] PermuteRowBytes(byte[] w, int heads, int headDim, int rowBytes) => Permute(w, heads, headDim, rowBytes);

    private static T[] Permute<T>(T[] w, int heads, int headDim, int cols)
    {
        if (w.Length != (long)heads * headDim * cols) throw new ArgumentException($"{w.Length} values are not {heads} heads × {headDim} × {cols}", nameof(w));
        var r = new T[w.Length];
        int half = headDim / 2;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                    w.AsSpan((h * headDim + j * half + i) * cols, cols).CopyTo(r.AsSpan((h * headDim + 2 * i + j) * cols, cols));
        return r;
    }

    /// <summary>The inverse of <see cref="PermuteRows"/>: the GGUF row that holds Hugging Face row <paramref name="row"/>
    /// (row h·hd + j·hd/2 + i of the half-rotation layout is GGUF row h·hd + 2i + j).</summary>
    public static int UnpermuteRow(int row, int headDim)
    {
        int h = row / headDim, r = row % headDim, half = headDim / 2;
        int j = r / half, i = r % half;
        return h * headDim + 2 * i + j;
    }

    private static T[] Stack<T>(int count, Func<int, T[]> part)
    {
        T[][] parts = [.. Enumerable.Range(0, count).Select(part)];
        var r = new T[parts.Sum(x => (long)x.Length)];
        int at = 0;
        foreach (T[] x in parts) { x.CopyTo(r, at); at += x.Length; }
        return r;
    }
}
