using System.Text;

namespace Dllm.Text;

/// <summary>UTF-8 decoding that never throws: invalid or truncated sequences become U+FFFD.</summary>
/// <remarks>
/// Generated ids can end in the middle of a multi-byte character (a token holds one byte of an emoji),
/// and a half-trained model can emit any byte sequence, so decoding must be total. The replacement follows
/// the .NET decoder (one U+FFFD per maximal invalid subpart, as recommended by Unicode and as Python's
/// <c>errors="replace"</c> does).
/// </remarks>
internal static class Utf8Lenient
{
    private static readonly UTF8Encoding Decoder = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    public static string Decode(List<byte> bytes)
        => Decoder.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
}
