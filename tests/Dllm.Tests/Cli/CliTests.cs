using System.Diagnostics;
using System.Text.Json;

namespace Dllm.Tests.Cli;

/// <summary>The dllm command run as a user would: a separate process, its stdout, stderr and exit code.</summary>
public class CliTests
{
    /// <summary>Runs Dllm.Cli.dll from the test output folder with these arguments.</summary>
    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Dllm.Cli.dll"));
        foreach (string a in args) psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    [Fact]
    public void GenerateWithPromptIdsPrintsTheReferenceAnswer()
    {
        JsonElement c = JsonDocument.Parse(File.ReadAllText(TestPaths.Golden("golden.json"))).RootElement
            .GetProperty("models").GetProperty("tiny-bf16-gqa").GetProperty("generate_cases")[1]; // semi-AR case
        int[] prompt = c.GetProperty("prompt_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
        int[] expected = c.GetProperty("output_ids").EnumerateArray().Select(x => x.GetInt32()).Skip(prompt.Length).ToArray();
        var (code, output, err) = Run("generate", "--model", TestPaths.Golden("tiny-bf16-gqa"), "--prompt-ids", string.Join(",", prompt),
            "--gen-length", c.GetProperty("gen_length").ToString(), "--steps", c.GetProperty("steps").ToString(),
            "--block-length", c.GetProperty("block_length").ToString(), "--output", "ids", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Equal(string.Join(",", expected), output.Trim());
    }

    [Theory]
    [InlineData("--steps", "7", "multiple of the number of blocks")]
    [InlineData("--gen-length", "-4", "--gen-length must be positive")]
    [InlineData("--prompt-ids", "1,x", "'x' is not an integer")]
    [InlineData("--prompt-ids", "1,500", "outside the vocabulary")]
    [InlineData("--threads", "0", "--threads must be at least 1")]
    [InlineData("--threshold", "1.5", "--threshold must be in (0, 1], got 1.5")]
    [InlineData("--remasking", "best", "--remasking must be one of low_confidence, random, topk_margin, entropy")]
    [InlineData("--temperature", "hot", "--temperature must be a number, got 'hot'")]
    public void BadFlagsGiveAClearErrorAndNonZeroExit(string flag, string value, string message)
    {
        var flags = new Dictionary<string, string> { ["--gen-length"] = "16", ["--steps"] = "16", ["--block-length"] = "8", ["--prompt-ids"] = "1,2,3" };
        if (flag == "--threshold") flags["--commit"] = "threshold";
        flags[flag] = value;
        var args = new List<string> { "generate", "--model", TestPaths.Golden("tiny-f32") };
        foreach (var (f, v) in flags) args.AddRange([f, v]);
        var (code, _, err) = Run([.. args]);
        Assert.NotEqual(0, code);
        Assert.Contains(message, err);
        Assert.DoesNotContain("   at ", err); // no stack trace
    }

    [Fact]
    public void PromptIdsWithoutATokenizerAskForIdOutput()
    {
        var (code, output, err) = Run("generate", "--model", TestPaths.Golden("tiny-f32"), "--prompt-ids", "1,2,3", "--gen-length", "8", "--steps", "8");
        Assert.Equal(1, code);
        Assert.Contains("no tokenizer to print the answer as text: add --output ids", err);
        Assert.Equal("", output.Trim());
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void UnknownOptionAndMissingModelAreRejected()
    {
        Assert.NotEqual(0, Run("generate", "--bogus").Code);
        var (code, _, err) = Run("generate", "--model", "/no/such/dir", "--prompt", "hi");
        Assert.Equal(1, code);
        Assert.Contains("does not exist", err);
    }

    [Fact]
    public void CorruptCheckpointIsAnErrorNamingTheFile()
    {
        string dir = TestPaths.TempDir();
        File.Copy(TestPaths.Golden("tiny-f32", "config.json"), Path.Combine(dir, "config.json"));
        byte[] data = File.ReadAllBytes(TestPaths.Golden("tiny-f32", "model.safetensors"));
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), data[..(data.Length / 2)]); // truncated
        var (code, _, err) = Run("generate", "--model", dir, "--prompt-ids", "1,2");
        Assert.Equal(1, code);
        Assert.Contains("model.safetensors", err);
        Assert.StartsWith("error:", err.Trim());
    }

    [Fact]
    public void UnknownArchitectureIsNamed()
    {
        string dir = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(dir, "config.json"), """{"architectures":["MistralForCausalLM"],"model_type":"mistral","d_model":8,"n_heads":2,"n_layers":1,"vocab_size":10}""");
        var (code, _, err) = Run("info", "--model", dir);
        Assert.Equal(1, code);
        Assert.Contains("MistralForCausalLM", err);
        Assert.Contains("Qwen3ForCausalLM", err); // the supported ones are listed
    }

    [Fact]
    public void InfoPrintsParameterCountAndDtypes()
    {
        var (code, output, err) = Run("info", "--model", TestPaths.Golden("tiny-bf16-gqa"));
        Assert.True(code == 0, err);
        Assert.Contains("parameters:  98,752", output);
        Assert.Contains("dtype BF16", output);
        Assert.Contains("kv 2", output);
    }

    [Fact]
    public void InfoNamesTheFamily()
    {
        var (code, output, err) = Run("info", "--model", TestPaths.Golden("qwen", "qwen3-f32"));
        Assert.True(code == 0, err);
        Assert.Contains("family:      Qwen3 (Qwen3ForCausalLM; q/k norm)", output);
        Assert.Contains("kind:        autoregressive   attention: causal", output);
        Assert.Contains("head dim 12", output);
        Assert.Contains("mask none", output);
        (code, output, err) = Run("info", "--model", TestPaths.Golden("tiny-f32"));
        Assert.True(code == 0, err);
        Assert.Contains("family:      LLaDA (LLaDAModelLM)", output);
        (code, output, err) = Run("info", "--model", Model.BlockDiffusionGoldenTests.Dir("llada2-mini"));
        Assert.True(code == 0, err);
        Assert.Contains("family:      LLaDA2 (LLaDA2MoeModelLM; o bias, fused q/k/v, q/k norm, RoPE on 4 of 8 head dims, mixture of experts)", output);
        Assert.Contains("kind:        block_diffusion   attention: block_causal, block_size 8", output);
        Assert.Contains("experts:     8 × 16 wide, top-2 + shared expert 16, in 2 of 3 layers, expert bias", output);
    }

    [Fact]
    public void AccuracyTakesTheSharedDecodingFlagsWithItsOwnLengthDefaults()
    {
        string data = Path.Combine(TestPaths.TempDir(), "cases.jsonl");
        File.WriteAllText(data, "{\"task\":\"add\",\"prompt\":\"What is 3 + 4?\",\"response\":\"7\"}\n{\"task\":\"upper\",\"prompt\":\"Uppercase: apple\",\"response\":\"APPLE\"}\n");
        // The bundled model (the default), decoded with a threshold commit and the dual cache: flags only generate had before.
        var (code, output, err) = Run("accuracy", "--data", data, "--gen-length", "16", "--block-length", "8", "--commit", "threshold", "--cache", "dual", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Matches(@"all\s+\d/2", output);
        // Left out, the canvas is 48 in blocks of 16 (3 blocks), so 7 steps cannot be split evenly.
        (code, _, err) = Run("accuracy", "--data", data, "--steps", "7", "--threads", "1");
        Assert.Equal(1, code);
        Assert.StartsWith("error: --steps (7) must be a multiple of the number of blocks (3 = --gen-length / --block-length)", err.Trim());
        (code, _, err) = Run("accuracy", "--data", data, "--cache", "triple");
        Assert.Equal(1, code);
        Assert.Contains("cache", err);
    }
}
