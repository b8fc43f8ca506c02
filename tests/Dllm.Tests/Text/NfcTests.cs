using System.Text.Json;
using Dllm.Text;

namespace Dllm.Tests.Text;

/// <summary>Dllm's own canonical normalization equals Python's unicodedata (goldens by scripts/make_nfc_tables.py).</summary>
public class NfcTests
{
    public static TheoryData<int> Indices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Cases().Count; i++) data.Add(i);
        return data;
    }

    private static List<(string Text, string Nfc, string Nfd)> Cases()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("nfc", "cases.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (c.GetProperty("text").GetString()!, c.GetProperty("nfc").GetString()!, c.GetProperty("nfd").GetString()!))
            .ToList();
    }

    [Theory]
    [MemberData(nameof(Indices))]
    public void Nfc_and_nfd_match_python(int index)
    {
        var (text, nfc, nfd) = Cases()[index];
        Assert.Equal(nfc, Nfc.Normalize(text));
        Assert.Equal(nfd, Nfc.ToNfd(text));
    }

    [Fact]
    public void Ascii_and_lone_surrogates_pass_through()
    {
        Assert.Same("plain", Nfc.Normalize("plain"));
        Assert.Equal("a\uD800\u0301b", Nfc.Normalize("a\uD800\u0301b"));
    }
}
