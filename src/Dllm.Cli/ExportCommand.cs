using System.CommandLine;
using Dllm.IO;

namespace Dllm.Cli;

/// <summary><c>dllm export --model DIR --out FILE.gguf</c>: a GGUF that llama.cpp (and Dllm) loads (<see cref="GgufExport"/>:
/// F32, or the Q8_0/Q4_0 blocks of a <c>dllm quantize</c> checkpoint as they are; the checkpoint's tokenizer when GGUF can carry it, else a placeholder token-id vocabulary).</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var format = new Option<string>("--format") { Description = "gguf (the only format)", DefaultValueFactory = _ => "gguf" };
        var output = new Option<FileInfo>("--out") { Description = "Output file (*.gguf)", Required = true };
        var cmd = new Command("export", "Write a checkpoint as a GGUF file for llama.cpp (LLaDA, Dream, LLaDA-MoE)") { model, format, output };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            if (r.GetValue(format) != "gguf") throw new ArgumentException($"unknown --format '{r.GetValue(format)}': use gguf");
            string dir = ModelOption.Resolve(r.GetValue(model));
            if (GgufModel.IsGgufPath(dir)) throw new ArgumentException($"--model {dir} is already a GGUF file");
            string path = r.GetValue(output)!.FullName;
            string tokenizer = GgufExport.Write(dir, path);
            Console.WriteLine($"wrote {path} ({new FileInfo(path).Length / (1024.0 * 1024.0):F1} MiB); {tokenizer}");
            return 0;
        }));
        return cmd;
    }
}
