using System.Text.Json;
using Dllm.Chat;
using Dllm.Chat.Structured;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Tests.Cli;
using Dllm.Text;

namespace Dllm.Tests.Chat;

/// <summary>
/// Structured output by construction: on a few hundred random schemas, every answer of the weak bundled model
/// and of a random-weight model parses and validates (an independent validator reads the raw schema).
/// </summary>
public class StructuredOutputTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EveryAnswerOfTheBundledModelParsesAndValidates()
    {
        string dir = TestPaths.BundledModel();
        using Transformer lm = Transformer.Load(dir);
        var engine = new CompletionEngine(lm, TokenizerLoader.Load(dir), lm.Config.MaskTokenId, lm.Config.EosTokenId, new BatchLimits { MaxRows = 16 });
        await AllValidate(engine, seed: 1, count: 150);
    }

    [Fact]
    public async Task EveryAnswerOfARandomWeightModelParsesAndValidates()
    {
        string dir = TextPromptTests.WriteRandomByteModel();
        // The byte tokenizer spells the scaffold one character a token: a longer context than the 128 it was written with.
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(config), "\"max_sequence_length\":\\s*128", "\"max_sequence_length\": 2048"));
        using Transformer lm = Transformer.Load(dir);
        var engine = new CompletionEngine(lm, TokenizerLoader.Load(dir), lm.Config.MaskTokenId, lm.Config.EosTokenId, new BatchLimits { MaxRows = 16 });
        await AllValidate(engine, seed: 2, count: 150, maxDepth: 1);
    }

    private static async Task AllValidate(CompletionEngine engine, int seed, int count, int maxDepth = 2)
    {
        var rng = new Random(seed);
        List<int> prompt = engine.ChatPrompt([new ChatMessage("user", "Describe a person as JSON.")]);
        var failures = new List<string>();
        var jobs = new List<Task>();
        for (int i = 0; i < count; i++)
        {
            string schemaText = RandomSchemas.Object(rng, maxDepth);
            using JsonDocument doc = JsonDocument.Parse(schemaText);
            SchemaNode node = JsonSchemaSubset.Parse(doc.RootElement, "schema");
            var options = new DecodingOptions { Steps = 1 + rng.Next(12), Temperature = rng.Next(3) == 0 ? 0 : 0.9, Seed = i };
            jobs.Add(Check(engine.CompleteAsync(prompt, options, cancellationToken: Ct, schema: node), schemaText, failures));
        }
        await Task.WhenAll(jobs);
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(5)));
    }

    private static async Task Check(Task<Completion> answer, string schemaText, List<string> failures)
    {
        Completion c = await answer;
        string? error;
        try
        {
            using JsonDocument value = JsonDocument.Parse(c.Text);
            using JsonDocument schema = JsonDocument.Parse(schemaText);
            error = SchemaCheck.Validate(value.RootElement, schema.RootElement, "$");
        }
        catch (JsonException e) { error = "does not parse: " + e.Message; }
        if (error is not null) lock (failures) failures.Add($"{error}\n  schema {schemaText}\n  answer {c.Text}");
        Assert.Equal(FinishReason.Stop, c.FinishReason);
    }

    [Fact]
    public void AnExplodingSchemaIsRefusedAtOnceAsTooLong()
    {
        // 64^6 strings: laying it out would never end; the bound stops it at the model's context.
        string schema = """{"type":"string"}""";
        for (int i = 0; i < 6; i++) schema = $$"""{"type":"array","items":{{schema}},"minItems":64}""";
        using JsonDocument doc = JsonDocument.Parse(schema);
        SchemaNode node = JsonSchemaSubset.Parse(doc.RootElement, "schema");
        var tok = new ByteTokenizer();
        var engine = new CompletionEngine(ScriptedAnswers.Model("x", () => 0, maxLength: 512), tok, ByteTokenizer.Mask, ByteTokenizer.Eos);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<InvalidRequestException>(() => engine.Check([1, 2], new DecodingOptions(), schema: node));
        Assert.Equal("context_length_exceeded", e.Code);
        Assert.Contains("more than 512 tokens", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void UnsupportedKeywordsAreRefusedByPath()
    {
        using JsonDocument doc = JsonDocument.Parse("""{"type":"object","properties":{"a":{"type":"string","pattern":"x+"}}}""");
        var e = Assert.Throws<InvalidRequestException>(() => JsonSchemaSubset.Parse(doc.RootElement, "schema"));
        Assert.Equal("schema.properties.a.pattern", e.Field);
        Assert.StartsWith("schema.properties.a.pattern: the JSON Schema keyword 'pattern' is not supported", e.Message);
    }

    [Fact]
    public void TheConstraintKeepsANumberSlotDigitsThenBlanksWhateverTheCommitOrder()
    {
        var tok = new ByteTokenizer();
        var classes = new JsonTokenClasses(tok, tok.VocabSize);
        var template = JsonTemplate.Build(new SchemaNode(SchemaKind.Integer), classes, ByteTokenizer.Mask);
        var constraint = new JsonConstraint(template, classes, 0, ByteTokenizer.Mask);
        int[] canvas = [.. template.Tokens];
        Assert.Equal(JsonTemplate.NumberWidth, canvas.Length);
        canvas[2] = ' '; // a blank committed in the middle
        Assert.False(constraint.Allows(3, '7', canvas)); // no digit after a blank
        Assert.True(constraint.Allows(3, ' ', canvas));
        Assert.True(constraint.Allows(1, '0', canvas));   // digits before it are fine
        Assert.True(constraint.Allows(0, '0', canvas));   // a lone 0 is fine while no digit follows
        Assert.False(constraint.Allows(0, ' ', canvas));  // the number is never empty
        canvas[1] = '5';
        Assert.False(constraint.Allows(0, '0', canvas));  // no leading zero before a digit
        Assert.False(constraint.Allows(0, 'a', canvas));
        var row = new float[tok.VocabSize];
        constraint.Restrict(0, canvas, row);
        Assert.Equal(9, row.Count(float.IsFinite)); // 1-9
        int[] zero = [.. template.Tokens];
        zero[0] = '0';
        Assert.False(constraint.Allows(1, '3', zero));    // nothing but white space after a leading 0
        Assert.True(constraint.Allows(1, ' ', zero));
    }
}
