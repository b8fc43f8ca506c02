namespace Dllm.Experiments;

/// <summary>
/// A text file split for an experiment: the first 90 % (up to the next line break) to train on, the
/// rest held out. For the bundled KJV excerpt the held-out part is the end of John, so held-out
/// passages come from text the model never saw.
/// </summary>
/// <param name="Path">The file read.</param>
/// <param name="Train">The first 90 %, cut at a line break (at exactly 90 % if no line break follows).</param>
/// <param name="HeldOut">The rest.</param>
public sealed record HeldOutText(string Path, string Train, string HeldOut)
{
    /// <summary>Reads <paramref name="data"/>, or data/kjv-excerpt.txt under the working directory when null.</summary>
    /// <exception cref="FileNotFoundException">No such file (the message says how to pass one).</exception>
    public static HeldOutText Read(string? data)
    {
        string path = data ?? System.IO.Path.Combine(Directory.GetCurrentDirectory(), "data", "kjv-excerpt.txt");
        if (!File.Exists(path)) throw new FileNotFoundException($"text file '{path}' does not exist (pass --data FILE)", path);
        string text = File.ReadAllText(path);
        int cut = text.IndexOf('\n', (int)(text.Length * 0.9));
        if (cut < 0) cut = (int)(text.Length * 0.9);
        return new HeldOutText(path, text[..cut], text[cut..]);
    }
}
