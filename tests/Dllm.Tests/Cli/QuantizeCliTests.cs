namespace Dllm.Tests.Cli;

/// <summary><c>dllm quantize</c>, <c>dllm export</c> and <c>--model FILE.gguf</c> as a user runs them.</summary>
public class QuantizeCliTests
{
    [Theory]
    [InlineData("q4_0", "Q4_0")]
    [InlineData("q4_k", "Q4_K")]
    [InlineData("q5_0", "Q5_0")]
    [InlineData("q5_k", "Q5_K")]
    public void Quantize_export_and_generate_from_the_gguf_give_the_same_answer(string type, string shown)
    {
        string tmp = TestPaths.TempDir(), q = Path.Combine(tmp, "q"), gguf = Path.Combine(tmp, "q.gguf");
        var (code, output, err) = CliTests.Run("quantize", "--model", IO.CheckpointQuantizerTests.BundledMdm(), "--type", type, "--out", q);
        Assert.True(code == 0, err);
        Assert.Contains(shown, output);
        (code, _, err) = CliTests.Run("export", "--model", q, "--out", gguf);
        Assert.True(code == 0, err);
        string[] gen = ["generate", "--prompt-ids", "1,2,3", "--gen-length", "16", "--steps", "16", "--output", "ids"];
        var fromDir = CliTests.Run([.. gen, "--model", q]);
        var fromGguf = CliTests.Run([.. gen, "--model", gguf]);
        Assert.True(fromDir.Code == 0 && fromGguf.Code == 0, fromDir.Err + fromGguf.Err);
        Assert.Equal(fromDir.Out, fromGguf.Out);
    }

    [Theory]
    [InlineData("qwen/dream-f32")]
    [InlineData("lladamoe/tiny-qknorm")]
    public void Family_gguf_generates_what_its_checkpoint_generates(string golden)
    {
        string dir = TestPaths.Golden(golden.Split('/')), gguf = Path.Combine(TestPaths.TempDir(), "m.gguf");
        var (code, _, err) = CliTests.Run("export", "--model", dir, "--out", gguf);
        Assert.True(code == 0, err);
        string[] gen = ["generate", "--prompt-ids", "1,2,3", "--gen-length", "8", "--steps", "8", "--output", "ids"];
        var fromDir = CliTests.Run([.. gen, "--model", dir]);
        var fromGguf = CliTests.Run([.. gen, "--model", gguf]);
        Assert.True(fromDir.Code == 0 && fromGguf.Code == 0, fromDir.Err + fromGguf.Err);
        Assert.Equal(fromDir.Out, fromGguf.Out);
    }

    [Fact]
    public void The_bundled_chat_model_answers_a_text_prompt_from_its_gguf_alone()
    {
        string model = TestPaths.BundledModel(), gguf = Path.Combine(TestPaths.TempDir(), "chat.gguf");
        var (code, output, err) = CliTests.Run("export", "--model", model, "--out", gguf);
        Assert.True(code == 0, err);
        Assert.Contains("tokenizer written", output);
        string[] gen = ["generate", "--prompt", "Hello, who are you?", "--gen-length", "16", "--steps", "16"];
        var fromDir = CliTests.Run([.. gen, "--model", model]);
        var fromGguf = CliTests.Run([.. gen, "--model", gguf]);
        Assert.True(fromDir.Code == 0 && fromGguf.Code == 0, fromDir.Err + fromGguf.Err);
        Assert.Equal(fromDir.Out, fromGguf.Out);
    }

    [Theory]
    [InlineData("quantize", "--type", "q3_k", "unknown quantization type 'q3_k'")]
    [InlineData("generate", "--prompt", "hi", "carries no tokenizer")]
    [InlineData("generate", "--prompt-ids", "1", "bad magic")]
    public void Bad_input_is_one_error_line(string verb, string flag, string value, string message)
    {
        string tmp = TestPaths.TempDir(), gguf = Path.Combine(tmp, "x.gguf");
        File.WriteAllBytes(gguf, new byte[64]);
        if (verb == "generate" && message != "bad magic")
            Assert.Equal(0, CliTests.Run("export", "--model", TestPaths.Golden("tiny-f32"), "--out", gguf).Code);
        string[] args = verb == "quantize"
            ? [verb, "--model", TestPaths.Golden("tiny-f32"), flag, value, "--out", Path.Combine(tmp, "o")]
            : [verb, "--model", gguf, flag, value, "--output", "ids"];
        var (code, _, err) = CliTests.Run(args);
        Assert.Equal(1, code);
        Assert.Contains(message, err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
