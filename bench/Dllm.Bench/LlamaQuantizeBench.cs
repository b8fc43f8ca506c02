using Dllm.Tests.Reference;
using LLama.Native;

namespace Dllm.Bench;

/// <summary>
/// <c>llamaquantize IN.gguf OUT.gguf TYPE [--pure]</c>: llama.cpp's own quantizer (<c>llama_model_quantize</c> through
/// <see cref="LlamaCppModel.Quantize"/>) on a GGUF, so that <c>bench/bench_vs_llamacpp.sh</c> can make the files llama.cpp
/// users actually run (its BF16, Q8_0 and Q4_K_M, whose mix puts Q6_K in the output and some attn_v / ffn_down
/// matrices) without the C API. TYPE: an <see cref="LLamaFtype"/> without its prefix (f32, f16, bf16, q8_0, q4_0,
/// q4_k_m, q6_k, ...). Without <c>--pure</c> llama.cpp's own per-tensor mix is kept (what <c>llama-quantize</c> does);
/// with it every matrix is TYPE. A row width the type cannot hold (Q4_K/Q6_K need multiples of 256) makes llama.cpp
/// fall back to another type for that tensor, which its log says and Dllm may not read.
/// Not a timing: it exists only because the benchmark needs llama.cpp's files.
/// </summary>
internal static class LlamaQuantizeBench
{
    public static int Run(string[] args)
    {
        string[] positional = [.. args.Where(a => a != "--pure")];
        string? unknown = args.FirstOrDefault(a => a.StartsWith("--") && a != "--pure");
        if (unknown is not null || positional.Length != 3)
        {
            Console.Error.WriteLine(unknown is not null ? $"llamaquantize: unknown option {unknown}" : "usage: Dllm.Bench llamaquantize IN.gguf OUT.gguf TYPE [--pure]");
            return 2;
        }
        string input = positional[0], output = positional[1];
        if (!File.Exists(input)) { Console.Error.WriteLine($"llamaquantize: {input}: no such file"); return 2; }
        if (ParseType(positional[2]) is not LLamaFtype ftype)
        {
            Console.Error.WriteLine($"llamaquantize: unknown TYPE '{positional[2]}' (e.g. f32, bf16, q8_0, q4_k_m, q6_k)");
            return 2;
        }
        try { LlamaCppModel.Quantize(input, output, ftype, pure: args.Contains("--pure"), threads: Environment.ProcessorCount); }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"llamaquantize: {e.Message.Split('\n')[0]}");
            return 1;
        }
        Console.WriteLine($"wrote {output} ({ftype}, {new FileInfo(output).Length / (1024.0 * 1024.0):F1} MiB)");
        return 0;
    }

    /// <summary>"q4_k_m" → MOSTLY_Q4_K_M, "f32" → ALL_F32; null when libllama has no such ftype.</summary>
    private static LLamaFtype? ParseType(string type)
    {
        string t = type.ToUpperInvariant();
        foreach (string name in new[] { "MOSTLY_" + t, "ALL_" + t, "LLAMA_FTYPE_MOSTLY_" + t })
            if (Enum.TryParse(name, out LLamaFtype f) && Enum.IsDefined(f)) return f;
        return null;
    }
}
