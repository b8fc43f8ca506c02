using System.CommandLine;

namespace Dllm.Cli;

/// <summary>
/// The shared <c>--model</c> flag of the verbs that run a checkpoint. Left out, it means the bundled
/// chat model <c>models/chat-1m</c> of this repository, found by walking up from the current
/// directory and from the executable's directory (so <c>./dllm chat</c> works from anywhere in
/// the checkout, and the test binaries find it too).
/// </summary>
internal static class ModelOption
{
    /// <summary>The bundled default, relative to the repository root.</summary>
    public static readonly string BundledRelative = Path.Combine("models", "chat-1m");

    public static Option<DirectoryInfo?> Create() => new("--model", "-m")
    {
        Description = $"Hugging Face LLaDA directory (config.json, *.safetensors, tokenizer.json), or a llada, dream or llada-moe *.gguf file (its tokenizer read when it is a byte-level BPE; else use --prompt-ids and --output ids); default: the bundled {BundledRelative.Replace('\\', '/')}",
    };

    /// <summary>The model directory to load: the flag's value, or the bundled model.</summary>
    /// <exception cref="DirectoryNotFoundException">The given directory does not exist, or no flag was given
    /// and the bundled model is not found above the current or the executable's directory.</exception>
    public static string Resolve(DirectoryInfo? given)
    {
        if (given is not null)
            return Directory.Exists(given.FullName) || Dllm.IO.GgufModel.IsGgufPath(given.FullName) ? given.FullName
                : throw new DirectoryNotFoundException($"model directory '{given.FullName}' does not exist");
        string[] starts = [Environment.CurrentDirectory, AppContext.BaseDirectory];
        foreach (string start in starts)
            for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
            {
                string candidate = Path.Combine(d.FullName, BundledRelative);
                if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
            }
        throw new DirectoryNotFoundException(
            $"no --model given and the bundled model {BundledRelative} was not found above '{starts[0]}' or '{starts[1]}'; pass --model DIR");
    }

    /// <summary>The decoding knobs the model's family recommends (<see cref="Dllm.Chat.RecommendedDecoding"/>), before flags.</summary>
    public static Dllm.Chat.DecodingKnobs RecommendedKnobs(string dir)
        => Dllm.Chat.RecommendedDecoding.For(Config(dir));

    /// <summary>The model's config: config.json of a directory, or the metadata of a <c>.gguf</c> file.</summary>
    public static Dllm.Model.ModelConfig Config(string dir)
    {
        if (!Dllm.IO.GgufModel.IsGgufPath(dir)) return Dllm.Model.ModelConfig.Load(Path.Combine(dir, "config.json"));
        using var f = Dllm.IO.GgufFile.Open(dir);
        return Dllm.IO.GgufModel.ConfigOf(f);
    }

    /// <summary>
    /// <see cref="Resolve"/> for the verbs that run the diffusion sampler (generate, chat, serve, accuracy):
    /// an autoregressive checkpoint (model_kind autoregressive in its config.json) is refused, since the
    /// diffusion sampler would decode it in an order it was not trained for and answer silently wrong.
    /// </summary>
    /// <exception cref="NotSupportedException">The checkpoint was trained autoregressively.</exception>
    public static string ResolveDiffusion(DirectoryInfo? given)
    {
        string dir = Resolve(given);
        string config = Path.Combine(dir, "config.json");
        if (!File.Exists(config)) return dir;
        Dllm.Model.ModelConfig c = Dllm.Model.ModelConfig.Load(config);
        if (c.Kind == Dllm.Model.ModelKind.Autoregressive)
            throw new NotSupportedException($"'{dir}' is an autoregressive checkpoint; the diffusion sampler needs a masked diffusion model (score AR models with `dllm experiment eval` or `dllm eval`)");
        if (c.IsContinuous)
            throw new NotSupportedException($"'{dir}' is a {c.KindName} checkpoint (continuous diffusion): only `dllm generate` and `dllm eval` run it; chat, serve and accuracy need a masked diffusion model");
        return dir;
    }

    /// <summary>The config of a continuous-family checkpoint in <paramref name="dir"/>, or null for any other (or none).</summary>
    public static Dllm.Model.ModelConfig? ContinuousConfig(string dir)
    {
        string config = Path.Combine(dir, "config.json");
        if (!File.Exists(config)) return null;
        Dllm.Model.ModelConfig c = Dllm.Model.ModelConfig.Load(config);
        return c.IsContinuous ? c : null;
    }
}
