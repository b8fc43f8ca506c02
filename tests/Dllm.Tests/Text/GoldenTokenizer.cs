using System.Text.Json;
using Dllm.Text;
using Xunit;

namespace Dllm.Tests.Text;

/// <summary>
/// The committed test tokenizer (tests/golden/tokenizer, made by scripts/make_test_tokenizer.py) and its
/// reference encodings. Special ids are read from the file, never hard-coded.
/// </summary>
internal static class GoldenTokenizer
{
    public static string JsonPath => TestPaths.Golden("tokenizer", "tokenizer.json");

    private static readonly Lazy<HfBpeTokenizer> Shared = new(() => HfBpeTokenizer.Load(JsonPath));

    /// <summary>One loaded instance shared by tests (the tokenizer is immutable).</summary>
    public static HfBpeTokenizer Tokenizer => Shared.Value;

    private static readonly Lazy<(List<(string Text, int[] Ids)> Cases, Dictionary<string, int> Special)> Data = new(Read);

    public static IReadOnlyList<(string Text, int[] Ids)> Cases => Data.Value.Cases;

    public static int SpecialId(string name) => Data.Value.Special[name];

    private static (List<(string, int[])>, Dictionary<string, int>) Read()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("tokenizer", "cases.json")));
        var cases = doc.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (c.GetProperty("text").GetString()!,
                          c.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray()))
            .ToList();
        var special = doc.RootElement.GetProperty("special_ids").EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.GetInt32());
        return (cases, special);
    }

    /// <summary>Indices of the golden cases, one theory row each.</summary>
    public static TheoryData<int> CaseIndices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Cases.Count; i++) data.Add(i);
        return data;
    }
}
