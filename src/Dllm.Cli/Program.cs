using System.CommandLine;
using Dllm.Cli;

// dllm: the command-line face of the Dllm library. Each verb lives in its own file.
var root = new RootCommand("Dllm: diffusion language models (LLaDA) in pure C#")
{
    GenerateCommand.Create(),
    InfoCommand.Create(),
};
return root.Parse(args).Invoke();
