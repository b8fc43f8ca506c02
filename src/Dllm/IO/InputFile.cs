namespace Dllm.IO;

/// <summary>
/// The check every reader makes before it opens a model or data file: the file exists and has
/// content. .NET cannot tell a FIFO or a device from a regular file without opening it, and opening a
/// FIFO blocks until something writes to it (a hang, not an error); both report a length of 0, as an
/// empty file does, and none of them is a usable model or data file. So a zero-length path is refused
/// without being opened.
/// </summary>
public static class InputFile
{
    /// <summary>Checks <paramref name="path"/> before it is opened as <paramref name="what"/> ("config", "tokenizer file", ...).</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">A directory, or an empty file (or a FIFO or device, which look empty).</exception>
    public static void Require(string path, string what)
    {
        if (Directory.Exists(path)) throw new InvalidDataException($"{path}: the {what} path is a directory, not a file");
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{what} not found: {path}", path);
        if (info.Length == 0)
            throw new InvalidDataException($"{path}: the {what} is empty (or not a regular file: a FIFO or a device, which Dllm does not read)");
    }
}
