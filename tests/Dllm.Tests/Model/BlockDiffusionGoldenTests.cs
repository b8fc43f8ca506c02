using System.Text.Json;
using Dllm.IO;
using Dllm.Model;
using Dllm.Sampling;

namespace Dllm.Tests.Model;

/// <summary>
/// SDAR and Fast-dLLM v2 against the committed PyTorch reference (scripts/make_blockdiff_golden.py with
/// scripts/blockdiff_reference.py, written from JetAstra/SDAR's generate.py and modelling code and from
/// Fast-dLLM v2's modeling.py): tiny checkpoints in the published layouts load with <see cref="Transformer.Load"/>,
/// their block-causal logits agree within 1e-4 of the largest, and greedy generation commits the same tokens as
/// the published generate loops — with and without the exact cache. (tests/golden/blockdiff/README.md defines
/// every field; the LLaDA2-mini golden there is not loaded yet: its config dialect is not implemented.)
/// </summary>
public class BlockDiffusionGoldenTests
{
    private static readonly JsonElement Golden = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("blockdiff", "golden.json"))).RootElement;
    private readonly ITestOutputHelper _out = TestContext.Current.TestOutputHelper!;

    public static TheoryData<string> Models => ["sdar", "fastdllm-v2"];

    private static JsonElement Model(string name) => Golden.GetProperty("models").GetProperty(name);
    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    /// <summary>The checkpoint directory; Fast-dLLM v2's config has no mask id (generate() takes it), so a copy gets the golden's.</summary>
    private static string Dir(string name)
    {
        string dir = TestPaths.Golden("blockdiff", name);
        if (name != "fastdllm-v2") return dir;
        string copy = TestPaths.TempDir();
        foreach (string f in Directory.GetFiles(dir)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        string config = File.ReadAllText(Path.Combine(copy, "config.json"));
        File.WriteAllText(Path.Combine(copy, "config.json"), config.Replace("\"bd_size\"", $"\"mask_token_id\": {Model(name).GetProperty("mask_token_id").GetInt32()},\n  \"bd_size\""));
        return copy;
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void The_published_config_reads_as_block_diffusion(string name)
    {
        JsonElement m = Model(name), rc = m.GetProperty("resolved_config");
        using Transformer lm = Transformer.Load(Dir(name));
        Assert.Equal(m.GetProperty("architecture").GetString(), lm.Config.Spec.Architecture);
        Assert.Equal(ModelKind.BlockDiffusion, lm.Config.Kind);
        Assert.Equal(m.GetProperty("block_size").GetInt32(), lm.DiffusionBlockSize);
        Assert.Equal(rc.GetProperty("head_dim").GetInt32(), lm.Config.HeadDim);
        Assert.Equal(rc.GetProperty("qk_norm").GetBoolean(), lm.Config.QkNorm);
        Assert.Equal(rc.GetProperty("bias_qkv").GetBoolean(), lm.Config.IncludeQkvBias);
        Assert.Equal(name == "fastdllm-v2", lm.Config.ShiftLogits);
        // Written back in the family's dialect, the config reads the same.
        string dir = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(dir, "config.json"), lm.Config.ToJson());
        ModelConfig again = ModelConfig.Load(Path.Combine(dir, "config.json"));
        Assert.Equal(lm.Config.Pattern, again.Pattern);
        Assert.Equal(lm.Config.Family, again.Family);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Logits_match_the_reference(string name)
    {
        JsonElement m = Model(name);
        using Transformer lm = Transformer.Load(Dir(name));
        using var expectedFile = SafeTensorsFile.Open(TestPaths.Golden(m.GetProperty("logits_file").GetString()!));
        foreach (JsonElement c in m.GetProperty("logits_cases").EnumerateArray())
        {
            int[] ids = Ints(c.GetProperty("input_ids")[0]);
            int len = ids.Length, v = lm.VocabSize;
            var logits = new float[len * v];
            lm.Logits(ids, 1, len, Enumerable.Range(0, len).ToArray(), logits);
            // The reference's raw rows; Dllm's Fast-dLLM v2 reads position p from row p − 1 (row 0 its own).
            float[] raw = expectedFile.ReadSingle(c.GetProperty("tensor").GetString()!);
            float[] expected = lm.Config.ShiftLogits ? [.. raw.AsSpan(0, v), .. raw.AsSpan(0, (len - 1) * v)] : raw;
            double maxAbs = expected.Max(Math.Abs), maxDiff = 0;
            for (int i = 0; i < expected.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - logits[i]));
            _out.WriteLine($"{name}/{c.GetProperty("name")}: max |Δ logit| / max |logit| = {maxDiff / maxAbs:E2}");
            Assert.True(maxDiff <= 1e-4 * maxAbs, $"{name}/{c.GetProperty("name")}: max |Δ logit| {maxDiff:E2} exceeds 1e-4 × {maxAbs:F3}");
        }
    }

    public static IEnumerable<TheoryDataRow<string, string, bool>> GenerateCases()
        => from name in new[] { "sdar", "fastdllm-v2" }
           from c in Model(name).GetProperty("generate_cases").EnumerateArray()
           from cached in new[] { false, true }
           select new TheoryDataRow<string, string, bool>(name, c.GetProperty("name").GetString()!, cached);

    [Theory]
    [MemberData(nameof(GenerateCases))]
    public void Greedy_generation_matches_the_published_loop(string name, string caseName, bool cached)
    {
        JsonElement m = Model(name);
        JsonElement c = m.GetProperty("generate_cases").EnumerateArray().First(x => x.GetProperty("name").GetString() == caseName);
        JsonElement a = c.GetProperty("arguments");
        using Transformer lm = Transformer.Load(Dir(name));
        int grid = lm.DiffusionBlockSize, eos = m.GetProperty("eos_token_id").GetInt32();
        DecodingOptions options = name == "sdar"
            ? new DecodingOptions
            {
                GenLength = a.GetProperty("gen_length").GetInt32(),
                Steps = a.GetProperty("denoising_steps").GetInt32() * ((a.GetProperty("gen_length").GetInt32() + grid - 1) / grid),
                Commit = a.GetProperty("remasking_strategy").GetString() == "low_confidence_dynamic" ? CommitRule.Dynamic : CommitRule.Schedule,
                Threshold = a.GetProperty("confidence_threshold").GetDouble(),
            }
            : new DecodingOptions
            {
                GenLength = a.GetProperty("max_new_tokens").GetInt32(), Steps = a.GetProperty("max_new_tokens").GetInt32() / grid,
                Commit = CommitRule.Threshold, Threshold = a.GetProperty("threshold").GetDouble(),
                SubBlockLength = a.GetProperty("small_block_size").GetInt32(),
            };
        options = options with { EarlyStop = true, EosId = eos, Cache = cached ? CacheMode.Prefix : CacheMode.None };
        GenerationResult r = new DiffusionSampler(lm, m.GetProperty("mask_token_id").GetInt32()).Generate(Ints(c.GetProperty("prompt_ids")), options);

        int[] mine = r.Answer.ToArray(), expected = Ints(c.GetProperty("answer_until_eos"));
        int eosAt = Array.IndexOf(mine, eos);
        if (eosAt >= 0) mine = mine[..(eosAt + 1)];
        // The references decode past gen_length (SDAR to the block boundary, Fast-dLLM v2 one AR token per block):
        // compare what both produced; an answer that hit EOS must agree in full.
        int n = Math.Min(mine.Length, expected.Length);
        Assert.True(n >= Math.Min(expected.Length, options.GenLength), $"only {n} tokens to compare");
        if (c.GetProperty("hit_eos").GetBoolean()) Assert.Equal(expected, mine);
        else Assert.Equal(expected[..n], mine[..n]);
    }
}
