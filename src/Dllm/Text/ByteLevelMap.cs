namespace Dllm.Text;

/// <summary>
/// GPT-2's reversible mapping between the 256 byte values and 256 printable Unicode characters, used by
/// every byte-level BPE vocabulary (Llama-3, LLaDA, GPT-2...). A vocabulary token like "Ġthe" is the
/// byte string " the" written through this map.
/// </summary>
/// <remarks>
/// Why a map at all: byte-level BPE works on bytes, but the vocabularies are stored as JSON strings, so
/// the bytes that are not printable (control bytes, space, 0x7F-0xA0, 0xAD) are shifted to code points
/// 256 and up. Printable Latin-1 bytes map to themselves.
/// </remarks>
internal static class ByteLevelMap
{
    /// <summary>Character for each byte value.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    // The largest mapped character is U+0143 (256 + 67), so a small array is the whole inverse map.
    private static readonly short[] CharToByte = BuildCharToByte();

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var isPrintable = new bool[256];
        for (int b = '!'; b <= '~'; b++) isPrintable[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) isPrintable[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) isPrintable[b] = true;
        int next = 256;
        for (int b = 0; b < 256; b++)
            map[b] = isPrintable[b] ? (char)b : (char)next++;
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var inverse = new short[512];
        Array.Fill(inverse, (short)-1);
        for (int b = 0; b < 256; b++) inverse[ByteToChar[b]] = (short)b;
        return inverse;
    }

    /// <summary>Writes <paramref name="text"/>'s UTF-8 bytes as byte-level characters (e.g. " the" -> "Ġthe").</summary>
    public static string Encode(string text)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(text);
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>
    /// Appends the bytes a byte-level token stands for. A character outside the map (which a well-formed
    /// byte-level vocabulary never contains) is appended as its own UTF-8 so that nothing is silently lost.
    /// </summary>
    public static void AppendBytes(string token, List<byte> output)
    {
        foreach (char c in token)
        {
            int b = c < CharToByte.Length ? CharToByte[c] : -1;
            if (b >= 0) output.Add((byte)b);
            else output.AddRange(System.Text.Encoding.UTF8.GetBytes(c.ToString()));
        }
    }
}
