namespace Dllm.Bench;

/// <summary>Benchmark entry point: the first argument picks a mode; each mode lives in its own file.
/// Add a mode by adding a case here.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        string mode = args.Length > 0 ? args[0] : "";
        string[] rest = args.Length > 0 ? args[1..] : [];
        switch (mode)
        {
            case "gemm": return GemmBench.Run(rest);
            case "train": return TrainBench.Run(rest);
            case "generate": return GenerateBench.Run(rest);
            case "realsize": return RealSizeBench.Run(rest);
            case "load": return LoadBench.Run(rest);
            case "quant": return QuantBench.Run(rest);
            case "peak": return PeakBench.Run(rest);
            case "vsllama": return VsLlamaBench.Run(rest);
            case "llamaquantize": return LlamaQuantizeBench.Run(rest);
            default:
                Console.Error.WriteLine("usage: Dllm.Bench <mode> [options]");
                Console.Error.WriteLine("modes:");
                Console.Error.WriteLine("  gemm [--threads 1,2] [--csv] [--quick] [--kernel avx2] [--train] GFLOP/s of Gemm.Multiply (see GemmBench.cs)");
                Console.Error.WriteLine("  train [--threads N] [--steps 20] ...                  training tokens/s (see TrainBench.cs)");
                Console.Error.WriteLine("  generate --model DIR --prompt-ids IDS [--threads N]  one reference generate (see GenerateBench.cs)");
                Console.Error.WriteLine("  realsize --model DIR [--threads 2] [--steps 128] ...   load, one forward, an answer, peak memory (see RealSizeBench.cs)");
                Console.Error.WriteLine("  load [--random 512x8] [--clients 16,64] [--requests 64]  the server batched vs one-at-a-time under concurrent clients (see LoadBench.cs)");
                Console.Error.WriteLine("  quant [--model DIR] [--canvas 32,160] [--threads 1,2]   forward ms: stored vs Q8_0 vs Q4_0 vs Q4_K weights (see QuantBench.cs)");
                Console.Error.WriteLine("  peak [--threads 1,2]                                   the CPU's f32 FMA and int8 dot peaks (see PeakBench.cs)");
                Console.Error.WriteLine("  vsllama --gguf F.gguf[,G.gguf] [--canvas 32,160,512] [--threads 1,2] [--rounds 5] [--gap-ms 20] [--warmup-s 0.5]");
                Console.Error.WriteLine("      Dllm vs llama.cpp's libllama on the same GGUF file: one full forward (every position's logits) timed");
                Console.Error.WriteLine("      alternately in each engine; median/best wall ms, CPU ms, the ratio and the logit agreement, as a");
                Console.Error.WriteLine("      markdown table (see VsLlamaBench.cs; bench/bench_vs_llamacpp.sh makes the F32/BF16/Q8_0/Q4_K_M files)");
                Console.Error.WriteLine("  llamaquantize IN.gguf OUT.gguf TYPE [--pure]           llama.cpp's own quantizer (bf16, q8_0, q4_k_m, ...) for vsllama's files (see LlamaQuantizeBench.cs)");
                return mode == "" || mode is "-h" or "--help" ? 0 : 2;
        }
    }
}
