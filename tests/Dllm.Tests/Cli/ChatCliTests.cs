using System.Diagnostics;

namespace Dllm.Tests.Cli;

/// <summary>`dllm chat` through its non-interactive path: stdin piped, answers on stdout, notes on stderr.</summary>
public class ChatCliTests
{
    /// <summary>Runs Dllm.Cli.dll with <paramref name="stdin"/> piped in (then closed: end of input).</summary>
    internal static (int Code, string Out, string Err) RunWithInput(string stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Dllm.Cli.dll"));
        foreach (string a in args) psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        Task<string> output = p.StandardOutput.ReadToEndAsync();
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        p.WaitForExit();
        return (p.ExitCode, output.Result, err.Result);
    }

    private static readonly string[] Knobs = ["--gen-length", "16", "--steps", "8", "--block-length", "8", "--threads", "1"];

    [Fact]
    public void FirstAnswerEqualsGenerateAndCommandsAnswerOnStderrWithoutEndingTheSession()
    {
        string model = TextPromptTests.WriteRandomByteModel();
        var (genCode, generated, genErr) = CliTests.Run(["generate", "--model", model, "--prompt", "Hello there", .. Knobs]);
        Assert.True(genCode == 0, genErr);

        string input = "Hello there\n/set steps 7\n/set steps 4\n/set nonsense 1\n/frobnicate\n/reset\nHello there\n/exit\nnever read\n";
        var (code, output, err) = RunWithInput(input, ["chat", "--model", model, .. Knobs]);
        Assert.True(code == 0, err);
        // Turn 1 is the chat template of one user message, as generate --prompt builds it: same answer.
        Assert.StartsWith(generated, output);
        Assert.Contains("must be a multiple of the number of blocks", err);   // 7 steps for 2 blocks is rejected, the session goes on
        Assert.Contains("steps = 4", err);
        Assert.Contains("unknown decoding option 'nonsense'", err);
        Assert.Contains("unknown command '/frobnicate'", err);
        Assert.Contains("(conversation cleared)", err);
        Assert.DoesNotContain("   at ", err);
        // After /reset the same question is turn 1 again; with 4 steps instead of 8 it is still a complete answer line.
        Assert.True(output.Length > generated.Length, "the second question was not answered");
        Assert.DoesNotContain("never read", output + err);
    }

    [Fact]
    public void EndOfInputQuitsAndBadFlagsFailBeforeTheFirstQuestion()
    {
        string model = TextPromptTests.WriteRandomByteModel();
        Assert.Equal(0, RunWithInput("", ["chat", "--model", model, .. Knobs]).Code);
        var (code, _, err) = RunWithInput("hi\n", ["chat", "--model", model, "--gen-length", "16", "--block-length", "5"]);
        Assert.Equal(1, code);
        Assert.StartsWith("error:", err.Trim());
        Assert.Contains("gen-length", err);
        var (missing, _, merr) = RunWithInput("hi\n", ["chat", "--model", "/no/such/model"]);
        Assert.Equal(1, missing);
        Assert.Contains("does not exist", merr);
    }
}
