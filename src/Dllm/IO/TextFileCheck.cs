using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace Dllm.IO;

/// <summary>
/// Whether the bytes of a data file are text: UTF-8 without NUL bytes. A binary file (an image, a
/// checkpoint, a zip) trains a model on noise without a word, so it is refused, naming the first byte
/// that is not text. A few stray invalid bytes in a large text (a Latin-1 character in a UTF-8 corpus)
/// are tolerated: they decode to U+FFFD.
/// </summary>
public static class TextFileCheck
{
    /// <summary>The share of invalid UTF-8 bytes tolerated in training text (0.1 %).</summary>
    public const double ToleratedInvalidFraction = 0.001;

    /// <summary>Refuses <paramref name="bytes"/> (the content of <paramref name="path"/>) unless they are text.</summary>
    /// <param name="tolerate">Accept invalid UTF-8 up to <see cref="ToleratedInvalidFraction"/> (plain text corpora);
    /// false for formats that must be valid UTF-8 throughout (JSON, JSONL).</param>
    /// <exception cref="InvalidDataException">A NUL byte, or invalid UTF-8 beyond the tolerance: names the file,
    /// the first offending byte's offset and value, and how many there are.</exception>
    public static void Require(ReadOnlySpan<byte> bytes, string path, bool tolerate)
    {
        int nul = bytes.IndexOf((byte)0);
        if (nul >= 0)
            throw new InvalidDataException($"{path}: not text (a NUL byte at offset {nul}): is it a binary file?");
        if (Utf8.IsValid(bytes)) return;
        long invalid = 0, first = -1;
        for (int i = 0; i < bytes.Length;)
        {
            OperationStatus s = Rune.DecodeFromUtf8(bytes[i..], out _, out int used);
            if (s != OperationStatus.Done) { invalid += used; if (first < 0) first = i; }
            i += Math.Max(used, 1);
        }
        if (tolerate && invalid <= ToleratedInvalidFraction * bytes.Length) return;
        throw new InvalidDataException($"{path}: not UTF-8 text: byte 0x{bytes[(int)first]:X2} at offset {first} is invalid UTF-8 ({invalid:N0} invalid bytes of {bytes.Length:N0}{(tolerate ? $", more than the {ToleratedInvalidFraction:P1} tolerated" : "")})");
    }
}
