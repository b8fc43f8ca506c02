namespace Dllm.Chat;

/// <summary>
/// OpenAI's <c>stop</c>: the answer ends before the first occurrence of any stop string, which is not
/// returned. For streams, <see cref="Feed"/> holds back the text that could still be the start of a stop
/// string, so no prefix of a stop string is ever sent before it is known not to be one.
/// </summary>
/// <remarks>Works on the text, not the tokens: the model still denoises its whole canvas (a diffusion model
/// has no next-token loop to break out of), only the returned text is cut.</remarks>
public sealed class StopSequences
{
    private readonly string[] _stops;
    private readonly int _hold;
    private string _pending = "";

    /// <param name="stops">Stop strings; empty ones are ignored. No stops: the filter passes text through.</param>
    public StopSequences(IEnumerable<string> stops)
    {
        ArgumentNullException.ThrowIfNull(stops);
        _stops = [.. stops.Where(s => !string.IsNullOrEmpty(s))];
        _hold = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length) - 1;
    }

    /// <summary>True once a stop string was seen; nothing more is emitted.</summary>
    public bool Stopped { get; private set; }

    /// <summary>The text before the first stop string, and whether one was found.</summary>
    public (string Text, bool Stopped) Cut(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int cut = FirstStop(text);
        return cut < 0 ? (text, false) : (text[..cut], true);
    }

    /// <summary>Feeds the next streamed piece; returns the text that is now safe to send.</summary>
    public string Feed(string piece)
    {
        ArgumentNullException.ThrowIfNull(piece);
        if (Stopped) return "";
        string text = _pending + piece;
        int cut = FirstStop(text);
        if (cut >= 0)
        {
            Stopped = true;
            _pending = "";
            return text[..cut];
        }
        int keep = Math.Min(_hold, text.Length);
        _pending = text[^keep..];
        return text[..^keep];
    }

    /// <summary>At the end of the stream: the held-back text (empty after a stop).</summary>
    public string Flush()
    {
        string rest = Stopped ? "" : _pending;
        _pending = "";
        return rest;
    }

    private int FirstStop(string text)
    {
        int best = -1;
        foreach (string s in _stops)
        {
            int i = text.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0 && (best < 0 || i < best)) best = i;
        }
        return best;
    }
}
