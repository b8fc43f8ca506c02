using System.CommandLine;
using System.CommandLine.Help;
using Dllm.Cli;

// dllm: the command-line face of the Dllm library. Each verb lives in its own file.
// A plain Command named "dllm" (the assembly is Dllm.Cli) with the help and version options a root has.
var root = new Command("dllm", "Dllm: diffusion language models (LLaDA) in pure C#")
{
    new HelpOption(),
    new VersionOption(),
    GenerateCommand.Create(),
    InfoCommand.Create(),
    TrainCommand.Create(),
    AdaptCommand.Create(),
    EvalCommand.Create(),
    SftCommand.Create(),
    Dllm.Cli.Serving.ServeCommand.Create(),
    AccuracyCommand.Create(),
    ChatCommand.Create(),
    ExperimentCommand.Create(),
};
return root.Parse(args).Invoke();
