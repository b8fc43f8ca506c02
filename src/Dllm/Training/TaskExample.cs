using System.Text.Json;
using Dllm.IO;
using Dllm.Text;

namespace Dllm.Training;

/// <summary>
/// One line of an experiment's data: a prompt and the response a model should give, tagged with the
/// kind of question (e.g. "forward", "reversed", "4x4") so accuracy can be reported per kind. The
/// same JSONL format, <c>{"prompt": "...", "response": "...", "kind": "..."}</c>, holds training data
/// and evaluation sets, so any file in it can be evaluated. A prompt may contain <c>[MASK:n]</c> runs
/// (see <see cref="Dllm.Sampling.Infill"/>): then the response is what fills them, a question only a
/// masked diffusion model can be asked directly.
/// </summary>
public sealed record TaskExample(string Prompt, string Response, string Kind = "")
{
    /// <summary>True when the prompt holds <c>[MASK:n]</c> runs to fill (an infilling question).</summary>
    public bool IsInfill => Prompt.Contains("[MASK", StringComparison.Ordinal);

    /// <summary>
    /// Token ids for training and decoding without a chat template (the experiments' models are trained
    /// from scratch): prompt = BOS + bytes, answer = bytes + EOS. A model then learns to stop.
    /// </summary>
    public (int[] Prompt, int[] Answer) Encode(ITokenizer tok)
    {
        int bos = tok.BosId ?? throw new ArgumentException("the tokenizer has no BOS token");
        return ([bos, .. tok.Encode(Prompt)], [.. tok.Encode(Response), tok.EosId]);
    }

    // Readable files: apostrophes and '<' stay as they are (the files are data, never embedded in HTML).
    private static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The longest encoded example (prompt + answer): the canvas length SFT batches pad to.</summary>
    public static int MaxTokens(IEnumerable<TaskExample> examples, ITokenizer tok)
        => examples.Max(e => { var (p, a) = e.Encode(tok); return p.Length + a.Length; });

    /// <summary>Writes examples as JSONL (one object per line, UTF-8).</summary>
    public static void WriteJsonl(string path, IEnumerable<TaskExample> examples)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        using var w = new StreamWriter(path);
        foreach (TaskExample e in examples)
            w.WriteLine(JsonSerializer.Serialize(new Dictionary<string, string> { ["prompt"] = e.Prompt, ["response"] = e.Response, ["kind"] = e.Kind }, Json));
    }

    /// <summary>Reads a JSONL file written by <see cref="WriteJsonl"/> (or by hand: "kind" is optional; "task" is
    /// accepted for it, as in data/instructions-*.jsonl).</summary>
    /// <exception cref="InvalidDataException">Invalid JSON or a missing string field; the message names the file and line.</exception>
    public static List<TaskExample> ReadJsonl(string path)
    {
        var list = new List<TaskExample>();
        foreach (var (e, where) in JsonLines.Objects(path))
            list.Add(new TaskExample(JsonLines.RequiredString(e, "prompt", where), JsonLines.RequiredString(e, "response", where),
                JsonLines.OptionalString(e, "kind", where) ?? JsonLines.OptionalString(e, "task", where) ?? ""));
        if (list.Count == 0) throw new InvalidDataException($"data file '{path}' has no examples");
        return list;
    }

}
