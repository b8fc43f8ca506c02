using System.CommandLine;
using Dllm.Chat;
using Dllm.Model;
using Dllm.Text;
using Spectre.Console;

namespace Dllm.Cli;

/// <summary>
/// <c>dllm chat</c>: a multi-turn conversation with a LLaDA-style chat model (by default the bundled
/// one), with a live view of the canvas while it denoises. See <see cref="ChatRepl"/> for the commands.
/// </summary>
internal static class ChatCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var knobOptions = new KnobOptions();
        var stepDelay = new Option<int>("--step-delay") { Description = "Pause this many ms after each denoising step of the live view, to watch it", DefaultValueFactory = _ => 0 };
        var plain = new Option<bool>("--plain") { Description = "No live view even on a terminal: print each answer when it is done" };
        var threads = ThreadsOption.Create();
        var cmd = new Command("chat", "Chat with a diffusion model: multi-turn, live denoising view, /set to change decoding, Ctrl+C cancels an answer")
        {
            model, stepDelay, plain, threads,
        };
        foreach (Option o in knobOptions.All) cmd.Options.Add(o);
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            int delay = r.GetValue(stepDelay);
            if (delay < 0) throw new ArgumentException($"--step-delay must be ≥ 0, got {delay}");
            string dir = ModelOption.ResolveDiffusion(r.GetValue(model));
            DecodingKnobs knobs = knobOptions.Read(r, ModelOption.RecommendedKnobs(dir));
            using Transformer lm = Transformer.Load(dir);
            ITokenizer tok = TokenizerLoader.Load(dir);
            knobs.Build(lm.Config.EosTokenId); // bad flags end here, before the first question
            var engine = new CompletionEngine(lm, tok, lm.Config.MaskTokenId, lm.Config.EosTokenId);
            bool live = !r.GetValue(plain) && !Console.IsInputRedirected && !Console.IsOutputRedirected
                && AnsiConsole.Profile.Capabilities.Interactive;
            return new ChatRepl(new ChatSession(engine, knobs), engine, live, delay).Run();
        }));
        return cmd;
    }
}
