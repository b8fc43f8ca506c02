namespace Dllm.IO;

/// <summary>Text read from a file, made safe to quote in a one-line error: every control character (a newline, a NUL)
/// becomes a <c>\uXXXX</c> escape; everything else is kept.</summary>
internal static class PrintableText
{
    /// <summary>True when <paramref name="s"/> has a control character.</summary>
    public static bool HasControl(string s) => s.Any(char.IsControl);

    /// <summary><paramref name="s"/> with each control character as <c>\uXXXX</c>.</summary>
    public static string Escape(string s)
        => HasControl(s) ? string.Concat(s.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString())) : s;
}
