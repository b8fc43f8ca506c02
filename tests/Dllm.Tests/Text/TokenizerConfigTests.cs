using System.Text.Json.Nodes;
using Dllm.Text;
using Dllm.Text.Jinja;

namespace Dllm.Tests.Text;

/// <summary>tokenizer_config.json: special ids, end of turn, the model's chat template, and their errors.</summary>
public class TokenizerConfigTests
{
    private static string WriteConfig(string dir, JsonObject config)
    {
        string path = Path.Combine(dir, "tokenizer_config.json");
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }

    // The committed small LLaDA-layout tokenizer in a fresh model directory.
    private static string SmallModelDir()
    {
        string dir = TestPaths.TempDir();
        File.Copy(GoldenTokenizer.JsonPath, Path.Combine(dir, "tokenizer.json"));
        return dir;
    }

    [Fact]
    public void Qwen3_ids_come_from_its_config()
    {
        ITokenizer tok = RealTokenizers.Get("qwen3");
        Assert.Null(tok.BosId);                                   // bos_token: null
        Assert.Equal(tok.TokenToId("<|im_end|>"), tok.EosId);      // eos_token of the instruct config
        Assert.Equal(tok.TokenToId("<|im_end|>"), tok.EndOfTurnId);
        Assert.Equal(RealTokenizers.MaskIds["qwen3"], tok.MaskId); // config.json mask_token_id
        Assert.NotNull(tok.ModelTemplate);
        var answer = tok.Encode("The answer.").Concat([tok.EndOfTurnId!.Value, 5, 6]).ToList();
        Assert.Equal(tok.Encode("The answer."), GeneratedText.TrimAtEos(tok, answer));
    }

    [Fact]
    public void Llama3_ids_and_decode_clean_up_come_from_its_config()
    {
        ITokenizer tok = RealTokenizers.Get("llama3");
        Assert.Equal(tok.TokenToId("<|begin_of_text|>"), tok.BosId);
        Assert.Equal(tok.TokenToId("<|end_of_text|>"), tok.EosId);
        Assert.Equal(tok.TokenToId("<|eot_id|>"), tok.EndOfTurnId);
        Assert.Equal("Hi. Yes, it's", tok.Decode(tok.Encode("Hi . Yes , it 's")));  // clean_up_tokenization_spaces
        Assert.Equal("Hi", tok.Decode(tok.Encode("<|begin_of_text|>Hi<|eot_id|>"), skipSpecialTokens: true));
    }

    [Fact]
    public void Qwen3_thinking_switch_reaches_the_template()
    {
        ITokenizer tok = RealTokenizers.Get("qwen3");
        string off = ChatTemplate.Render(tok, [new ChatMessage("user", "Hi")], templateVariables: new Dictionary<string, object?> { ["enable_thinking"] = false });
        Assert.EndsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n", off);
        Assert.EndsWith("<|im_start|>assistant\n", ChatTemplate.Render(tok, [new ChatMessage("user", "Hi")]));
    }

    [Fact]
    public void Llada_config_template_gives_the_built_in_ids()
    {
        // LLaDA-8B-Instruct's tokenizer_config.json: its template text is llama3.jinja's, BOS <|startoftext|>.
        string dir = SmallModelDir();
        WriteConfig(dir, new JsonObject
        {
            ["bos_token"] = "<|startoftext|>",
            ["eos_token"] = "<|endoftext|>",
            ["pad_token"] = "<|endoftext|>",
            ["chat_template"] = File.ReadAllText(TestPaths.Golden("chat_templates", "llama3.jinja")),
        });
        ITokenizer withConfig = TokenizerLoader.Load(dir);
        ChatMessage[] conversation = [new("system", "Be kind."), new("user", "  Hi there \n"), new("assistant", "Hello."), new("user", "Bye")];
        Assert.NotNull(withConfig.ModelTemplate);
        Assert.Equal(ChatTemplate.Apply(GoldenTokenizer.Tokenizer, conversation), ChatTemplate.Apply(withConfig, conversation));
        Assert.Equal(GoldenTokenizer.Tokenizer.TokenToId(LladaTokens.EndOfTurn), withConfig.EndOfTurnId);
    }

    [Fact]
    public void Chat_template_jinja_file_wins_over_the_config()
    {
        string dir = SmallModelDir();
        WriteConfig(dir, new JsonObject { ["eos_token"] = "<|endoftext|>", ["chat_template"] = "config" });
        File.WriteAllText(Path.Combine(dir, "chat_template.jinja"), "{% for m in messages %}[{{ m.content }}]{% endfor %}");
        ITokenizer tok = TokenizerLoader.Load(dir);
        Assert.Equal("[a][b]", ChatTemplate.Render(tok, [new("user", "a"), new("assistant", "b")]));
    }

    [Fact]
    public void Options_override_the_files()
    {
        string dir = SmallModelDir();
        WriteConfig(dir, new JsonObject { ["eos_token"] = "<|endoftext|>", ["mask_token"] = "<|mdm_mask|>" });
        ITokenizer tok = TokenizerLoader.Load(dir, new TokenizerOptions { MaskToken = "<|eot_id|>", EndOfTurnToken = "<|end_header_id|>" });
        Assert.Equal(tok.TokenToId("<|eot_id|>"), tok.MaskId);
        Assert.Equal(tok.TokenToId("<|end_header_id|>"), tok.EndOfTurnId);
        Assert.Equal(7, TokenizerLoader.Load(dir, new TokenizerOptions { MaskId = 7 }).MaskId);
    }

    [Fact]
    public void Config_token_shapes_and_named_templates()
    {
        string path = WriteConfig(TestPaths.TempDir(), new JsonObject
        {
            ["bos_token"] = new JsonObject { ["__type"] = "AddedToken", ["content"] = "<s>" },
            ["eos_token"] = "</s>",
            ["unk_token"] = null,
            ["add_bos_token"] = true,
            ["chat_template"] = new JsonArray(
                new JsonObject { ["name"] = "default", ["template"] = "D" },
                new JsonObject { ["name"] = "tool_use", ["template"] = "T" }),
        });
        TokenizerConfig c = TokenizerConfig.Read(path);
        Assert.Equal(("<s>", "</s>", (string?)null, true), (c.BosToken, c.EosToken, c.UnkToken, c.AddBosToken));
        Assert.Equal("D", c.ChatTemplate);
        Assert.Equal("T", c.NamedChatTemplates["tool_use"]);
        Assert.False(c.CleanUpTokenizationSpaces);
        Assert.Equal(new Dictionary<string, string> { ["bos_token"] = "<s>", ["eos_token"] = "</s>" }, c.SpecialTokenVariables());
    }

    [Theory]
    [InlineData("""{"eos_token": 5}""", "\"eos_token\"")]
    [InlineData("""{"add_bos_token": "yes"}""", "\"add_bos_token\"")]
    [InlineData("""{"chat_template": 3}""", "\"chat_template\"")]
    [InlineData("""[1, 2]""", "object")]
    [InlineData("""{"eos_token": """, "not valid JSON")]
    public void Bad_config_fields_name_the_file_and_field(string json, string fragment)
    {
        string path = Path.Combine(TestPaths.TempDir(), "tokenizer_config.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<InvalidDataException>(() => TokenizerConfig.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void A_config_token_missing_from_the_vocabulary_is_named()
    {
        string dir = SmallModelDir();
        string path = WriteConfig(dir, new JsonObject { ["eos_token"] = "<|no_such_token|>" });
        var e = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(dir));
        Assert.Contains(path, e.Message);
        Assert.Contains("eos_token", e.Message);
        Assert.Contains("<|no_such_token|>", e.Message);
    }

    [Fact]
    public void A_broken_template_fails_at_load_naming_file_and_line()
    {
        string dir = SmallModelDir();
        string path = WriteConfig(dir, new JsonObject { ["eos_token"] = "<|endoftext|>", ["chat_template"] = "ok\n{% for %}" });
        var e = Assert.Throws<TemplateException>(() => TokenizerLoader.Load(dir));
        Assert.Equal(path + " chat_template", e.TemplateName);
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void Byte_tokenizer_keeps_its_built_in_template_and_end_of_turn()
    {
        ITokenizer tok = new ByteTokenizer();
        Assert.Null(tok.ModelTemplate);
        Assert.Equal(ByteTokenizer.EndOfTurn, tok.EndOfTurnId);
        Assert.Equal(ChatTemplate.Render([new ChatMessage("user", "x")]), ChatTemplate.Render(tok, [new ChatMessage("user", "x")]));
    }
}
