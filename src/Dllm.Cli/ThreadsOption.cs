using System.CommandLine;
using Dllm.Tensors;

namespace Dllm.Cli;

/// <summary>The shared <c>--threads</c> flag: worker threads for the kernels (default: all cores).</summary>
internal static class ThreadsOption
{
    public static Option<int> Create() => new("--threads", "-t")
    {
        Description = "Worker threads for the kernels (default: all cores)",
        DefaultValueFactory = _ => Environment.ProcessorCount,
    };

    public static void Apply(int threads)
    {
        if (threads < 1) throw new ArgumentException($"--threads must be at least 1, got {threads}");
        Parallelism.Threads = threads;
    }
}
