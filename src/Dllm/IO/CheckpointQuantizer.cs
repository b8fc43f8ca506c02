using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.IO;

/// <summary>
/// <c>dllm quantize</c>: writes a copy of a checkpoint directory whose weight matrices are stored in a
/// block-quantized <see cref="DType"/> (Q8_0, Q4_0, Q5_0, Q4_K, Q5_K or Q6_K), so that loading memory-maps them as is and the
/// linear layers run the int8 <see cref="QuantGemm"/>.
/// <para>
/// Container: the output is an ordinary checkpoint directory (config.json, tokenizer and every other
/// non-weight file copied unchanged) whose <c>model.safetensors</c> uses the dtypes "Q8_0" / "Q4_0" / "Q5_0" / "Q4_K" / "Q5_K" / "Q6_K", a Dllm
/// extension of safetensors (see <see cref="DTypeInfo.TryParseSafeTensors"/>): shape = the logical [rows, cols],
/// data = ggml's blocks row after row. This keeps the tokenizer, chat template and config next to the weights
/// for every verb; GGUF (<see cref="GgufExport"/>, <c>GgufFile</c>) is the interchange format with llama.cpp.
/// Other safetensors readers refuse these files.
/// </para>
/// <para>
/// What is quantized: every matrix <see cref="TransformerWeights.Bind(ModelConfig, Func{string, int, int, MatrixView}, Func{string, int, ReadOnlyMemory{float}}, Func{string, int, ReadOnlyMemory{float}})"/>
/// binds whose column count is a multiple of 32. Norm weights and biases stay as stored (llama.cpp also keeps
/// them f32), and so do a mixture-of-experts router (its scores pick the experts; llama.cpp keeps <c>ffn_gate_inp</c>
/// unquantized too) and a matrix whose rows are not whole blocks. The token embedding and the LM head are
/// quantized too, but never below Q8_0: with <c>--type q4_0</c> (or any type but q8_0) they are Q8_0 (llama.cpp likewise keeps its
/// output tensor at a higher precision, Q6_K, in its Q4_0 files).
/// </para>
/// <para>
/// The K-quants (Q4_K, Q5_K, Q6_K) need rows of whole 256-value super-blocks: a matrix whose column count is a multiple of
/// 32 but not of 256 (e.g. an FFN width of 704 in down_proj) is stored Q8_0 instead (llama.cpp falls back to Q5_0 for Q4_K,
/// Q5_1 for Q5_K and Q8_0 for Q6_K; Dllm reads its Q5_0 but keeps one fallback, Q8_0, for all three).
/// </para>
/// </summary>
public static class CheckpointQuantizer
{
    /// <summary>Quantizes <paramref name="inputDirectory"/> into <paramref name="outputDirectory"/> (created; must not be the input).</summary>
    /// <returns>One line per tensor kind: how many tensors became which dtype.</returns>
    /// <exception cref="ArgumentException">A type that is not block-quantized, or output = input.</exception>
    /// <exception cref="InvalidDataException">A bad config or checkpoint (the usual loader messages).</exception>
    public static string Quantize(string inputDirectory, DType type, string outputDirectory)
    {
        if (!type.IsQuantized()) throw new ArgumentException($"--type must be q8_0, q5_0, q4_0, q6_k, q5_k or q4_k, not {type.SafeTensorsName().ToLowerInvariant()}", nameof(type));
        string input = Path.GetFullPath(inputDirectory), output = Path.GetFullPath(outputDirectory);
        if (string.Equals(Path.TrimEndingDirectorySeparator(input), Path.TrimEndingDirectorySeparator(output), StringComparison.Ordinal))
            throw new ArgumentException($"--out must differ from --model ({input})");
        ModelConfig c = ModelConfig.Load(Path.Combine(input, "config.json"));
        using Checkpoint ckpt = Checkpoint.Open(input);
        TransformerWeights.Bind(c, ckpt); // every tensor present, shaped as the config says, none left over

        var matrices = new HashSet<string>(StringComparer.Ordinal);
        TransformerWeights.Bind(c, (name, rows, cols) => { matrices.Add(name); return default; }, (_, _) => default, (_, _) => default);
        string head = c.WeightTying ? c.Names.Embedding : c.Names.Head;

        var entries = new List<SafeTensorsWriter.Entry>();
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (TensorInfo t in ckpt.Tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            bool router = t.Name.EndsWith(".mlp.gate.weight", StringComparison.Ordinal); // a MoE router picks experts: kept, as llama.cpp keeps ffn_gate_inp
            DType target = router || !matrices.Contains(t.Name) || t.Rank != 2 || t.Shape[1] % DTypeInfo.QuantBlock != 0 ? t.DType
                : t.Name == c.Names.Embedding || t.Name == head || t.Shape[1] % type.BlockValues() != 0 ? DType.Q8_0 : type;
            // Made when the writer reaches the tensor: one tensor's floats and blocks in memory at a time, not the model's.
            string name = t.Name;
            DType source = t.DType;
            long length = t.ByteLength;
            entries.Add(SafeTensorsWriter.Entry.Deferred(name, target, (long[])t.Shape.Clone(), () =>
            {
                if (target != source) return QuantBlocks.Quantize(ckpt.ReadSingle(name), target);
                byte[] kept = new byte[length];
                unsafe { new ReadOnlySpan<byte>((void*)ckpt.GetPointer(name), kept.Length).CopyTo(kept); }
                return kept;
            }));
            string key = target == t.DType ? $"{t.DType.SafeTensorsName()} (kept)" : target.SafeTensorsName();
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        Directory.CreateDirectory(output);
        foreach (string f in Directory.GetFiles(input))
        {
            string name = Path.GetFileName(f);
            // Weights are rewritten below; trainer_state.json would make the copy look resumable, which a quantized model is not.
            if (name.EndsWith(".safetensors", StringComparison.Ordinal) || name == Checkpoint.IndexFileName || name == "trainer_state.json") continue;
            File.Copy(f, Path.Combine(output, name), overwrite: true);
        }
        foreach (string stale in Directory.GetFiles(output, "*.safetensors")) File.Delete(stale);
        File.Delete(Path.Combine(output, Checkpoint.IndexFileName));
        SafeTensorsWriter.Write(Path.Combine(output, Checkpoint.SingleFileName), entries,
            new Dictionary<string, string> { ["dllm.quantization"] = type.SafeTensorsName() });
        return string.Join(", ", counts.Select(kv => $"{kv.Value} tensor(s) {kv.Key}"));
    }

    /// <summary>Parses a <c>--type</c> value: q8_0, q5_0, q4_0, q6_k, q5_k or q4_k (any case).</summary>
    /// <exception cref="ArgumentException">Anything else, naming the accepted values.</exception>
    public static DType ParseType(string value) => value.ToLowerInvariant() switch
    {
        "q8_0" => DType.Q8_0,
        "q4_0" => DType.Q4_0,
        "q5_0" => DType.Q5_0,
        "q5_k" => DType.Q5_K,
        "q4_k" => DType.Q4_K,
        "q6_k" => DType.Q6_K,
        _ => throw new ArgumentException($"unknown quantization type '{value}': use q8_0, q5_0, q4_0, q6_k, q5_k or q4_k"),
    };
}
