using System.Buffers.Binary;
using System.Text;

namespace Dllm.Tests.IO;

/// <summary>Crafts safetensors files byte by byte, so tests can build the malformed ones the
/// writer refuses to produce.</summary>
internal static class RawSafeTensors
{
    /// <summary>Writes prefix + header + data. <paramref name="headerLength"/> overrides the prefix value.</summary>
    public static string Write(string dir, string headerJson, int dataBytes, ulong? headerLength = null, string name = "bad.safetensors")
        => WriteBytes(dir, Encoding.UTF8.GetBytes(headerJson), dataBytes, headerLength, name);

    public static string WriteBytes(string dir, byte[] header, int dataBytes, ulong? headerLength = null, string name = "bad.safetensors")
    {
        string path = Path.Combine(dir, name);
        byte[] file = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, headerLength ?? (ulong)header.Length);
        header.CopyTo(file, 8);
        for (int i = 0; i < dataBytes; i++) file[8 + header.Length + i] = (byte)i;
        File.WriteAllBytes(path, file);
        return path;
    }

    /// <summary>A one-tensor header: <c>{"x": {"dtype": D, "shape": S, "data_offsets": O}}</c>.</summary>
    public static string One(string dtype = "F32", string shape = "[2]", string offsets = "[0, 8]", string name = "x")
        => $$$"""{"{{{name}}}": {"dtype": "{{{dtype}}}", "shape": {{{shape}}}, "data_offsets": {{{offsets}}}}}""";
}
