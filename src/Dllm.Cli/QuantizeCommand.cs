using System.CommandLine;
using Dllm.IO;

namespace Dllm.Cli;

/// <summary><c>dllm quantize --model DIR --type q8_0|q5_0|q4_0|q6_k|q5_k|q4_k --out DIR</c>: a copy of the checkpoint with its weight
/// matrices in a ggml block format (<see cref="CheckpointQuantizer"/> says which tensors and in what container).</summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var type = new Option<string>("--type") { Description = "q8_0 (8.5 bits per weight) | q5_0 (5.5) | q4_0 (4.5) | q6_k (6.5625) | q5_k (5.5) | q4_k (4.5); k-quants need rows of whole 256-value blocks, other rows become Q8_0", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output checkpoint directory (config, tokenizer and a quantized model.safetensors)", Required = true };
        var cmd = new Command("quantize", "Write a copy of a checkpoint with Q8_0, Q5_0, Q4_0, Q6_K, Q5_K or Q4_K weight matrices (run with int8 kernels)") { model, type, output };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            string dir = ModelOption.Resolve(r.GetValue(model));
            var t = CheckpointQuantizer.ParseType(r.GetValue(type)!);
            string outDir = r.GetValue(output)!.FullName;
            string summary = CheckpointQuantizer.Quantize(dir, t, outDir);
            Console.WriteLine($"wrote {outDir}: {summary}");
            return 0;
        }));
        return cmd;
    }
}
