using System.Text.Json;
using Dllm.Text;
using Dllm.Text.Jinja;

namespace Dllm.Tests.Text;

/// <summary>
/// The Jinja renderer equals the reference renderer on the real chat templates of the dLLM families
/// (Qwen3 for SDAR, Qwen2.5 for Dream and Fast-dLLM v2, Llama-3 / LLaDA-8B-Instruct) and on feature
/// templates; goldens by scripts/goldens/make_chat_template_goldens.mjs.
/// </summary>
public class ChatTemplateGoldenTests
{
    private static readonly Lazy<JsonDocument> Doc = new(() =>
        JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("chat_templates", "cases.json"))));

    private static JsonElement Case(int index) => Doc.Value.RootElement.GetProperty("cases")[index];
    private static JsonElement IdCase(int index) => Doc.Value.RootElement.GetProperty("id_cases")[index];

    public static TheoryData<int, string> Renderings()
    {
        var data = new TheoryData<int, string>();
        int i = 0;
        foreach (JsonElement c in Doc.Value.RootElement.GetProperty("cases").EnumerateArray())
            data.Add(i++, c.GetProperty("template").GetString() + ": " + c.GetProperty("note").GetString());
        return data;
    }

    public static TheoryData<int, string> IdCases()
    {
        var data = new TheoryData<int, string>();
        int i = 0;
        foreach (JsonElement c in Doc.Value.RootElement.GetProperty("id_cases").EnumerateArray())
            data.Add(i++, c.GetProperty("tokenizer").GetString() + ": " + c.GetProperty("conversation").GetString());
        return data;
    }

    private static string TemplateSource(string name) => File.ReadAllText(TestPaths.Golden("chat_templates", name + ".jinja"));

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Renders_like_the_reference(int index, string label)
    {
        JsonElement c = Case(index);
        var template = JinjaTemplate.Parse(TemplateSource(c.GetProperty("template").GetString()!), label);
        var vars = c.GetProperty("vars").EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        Assert.Equal(c.GetProperty("expected").GetString(), template.Render(vars));
    }

    [Theory]
    [MemberData(nameof(IdCases))]
    public void Apply_with_the_real_tokenizer_gives_the_reference_ids(int index, string label)
    {
        JsonElement c = IdCase(index);
        ITokenizer tok = RealTokenizers.Get(c.GetProperty("tokenizer").GetString()!);
        Assert.NotNull(tok.ModelTemplate);
        ChatMessage[] messages = [.. c.GetProperty("messages").EnumerateArray()
            .Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!))];
        Assert.Equal(c.GetProperty("text").GetString(), ChatTemplate.Render(tok, messages));
        Assert.Equal(c.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()), ChatTemplate.Apply(tok, messages));
        Assert.False(string.IsNullOrEmpty(label));
    }
}
