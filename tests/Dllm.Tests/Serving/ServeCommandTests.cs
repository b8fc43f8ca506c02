using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dllm.Tests.Cli;

namespace Dllm.Tests.Serving;

/// <summary><c>dllm serve</c> as a user runs it: a separate process, its flags and its startup line.</summary>
public class ServeCommandTests
{
    private static readonly Lazy<string> Model = new(TextPromptTests.WriteRandomByteModel);

    [Theory]
    [InlineData("--urls", "ftp://127.0.0.1:1", "--urls: 'ftp://127.0.0.1:1' is not an http(s) URL")]
    [InlineData("--queue", "-1", "--queue must be ≥ 0, got -1")]
    [InlineData("--max-tokens", "0", "--max-tokens must be ≥ 1, got 0")]
    [InlineData("--steps", "x", "--steps must be an integer, got 'x'")]
    [InlineData("--block-length", "48", "--gen-length (128) must be a multiple of --block-length (48)")]
    public void BadFlagsAreOneErrorLine(string flag, string value, string message)
    {
        var args = new List<string> { "serve", "--model", Model.Value, flag, value };
        if (flag != "--urls") args.AddRange(["--urls", "http://127.0.0.1:0"]); // should it start after all, it exits at once: nothing listens on port 0
        var (code, _, err) = CliTests.Run([.. args]);
        Assert.Equal(1, code);
        Assert.StartsWith("error:", err.Trim());
        Assert.Contains(message, err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void AMissingModelDirectoryIsNamed()
    {
        var (code, _, err) = CliTests.Run("serve", "--model", "/no/such/model");
        Assert.Equal(1, code);
        Assert.Contains("model directory '/no/such/model' does not exist", err);
    }

    [Fact]
    public async Task ServeListensAndNamesTheModelAfterItsDirectory()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        string dir = TextPromptTests.WriteRandomByteModel();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "Dllm.Cli.dll"), "serve", "--model", dir, "--urls", "http://127.0.0.1:0", "--threads", "1" })
            psi.ArgumentList.Add(a);
        using Process server = Process.Start(psi)!;
        try
        {
            string line = await server.StandardError.ReadLineAsync(ct).AsTask().WaitAsync(TimeSpan.FromSeconds(60), ct) ?? "";
            Match m = Regex.Match(line, @"OpenAI base URL (http://127\.0\.0\.1:\d+)/v1");
            Assert.True(m.Success, $"unexpected startup line: {line}");
            using var http = new HttpClient();
            JsonElement models = JsonDocument.Parse(await http.GetStringAsync(m.Groups[1].Value + "/v1/models", ct)).RootElement;
            Assert.Equal(Path.GetFileName(dir), models.GetProperty("data")[0].GetProperty("id").GetString());
            string page = await http.GetStringAsync(m.Groups[1].Value + "/", ct);
            Assert.Contains("dllm_canvas", page);
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync(ct);
        }
    }
}
