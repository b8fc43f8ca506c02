using System.Diagnostics;

namespace Dllm.Tests.Cli;

/// <summary>
/// `dllm chat`'s live view in a real terminal: the chat runs in a detached tmux session (a pseudo-terminal),
/// keys are sent with send-keys and the screen is read with capture-pane. Skipped when tmux is not
/// installed, unless DLLM_REQUIRE_TMUX=1 (CI), where a missing tmux fails.
/// </summary>
public class ChatTmuxTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public void LiveViewShowsPlaceholdersThenTheAnswerAndCtrlCCancelsWithoutExiting()
    {
        if (!TmuxAvailable())
        {
            Assert.False(Environment.GetEnvironmentVariable("DLLM_REQUIRE_TMUX") == "1", "tmux is required (DLLM_REQUIRE_TMUX=1) but not installed");
            Assert.Skip("tmux is not installed (apt-get install tmux); set DLLM_REQUIRE_TMUX=1 to make this a failure");
        }
        string model = TextPromptTests.WriteRandomByteModel();
        string session = "dllm-chat-test-" + Guid.NewGuid().ToString("N")[..8];
        string cli = Path.Combine(AppContext.BaseDirectory, "Dllm.Cli.dll");
        // 32 positions, 32 steps, 100 ms per step: each answer stays on screen for ~3 s while it denoises.
        string command = $"dotnet '{cli}' chat --model '{model}' --gen-length 32 --steps 32 --block-length 32 --step-delay 100 --threads 1";
        Tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", command);
        try
        {
            WaitFor(session, s => s.Contains("you ›"), "the prompt");
            Send(session, "Hello there", "Enter");
            string denoising = WaitFor(session, s => s.Contains("masked"), "the live canvas");
            Assert.Contains("░", denoising);                                // masked positions as placeholders
            Assert.Matches(@"step \d+/32", denoising);
            string done = WaitFor(session, s => s.Contains("tokens,") && CountPrompts(s) == 2, "the finished answer");
            Assert.Matches(@"\(\d+ tokens, 32 steps, [\d.]+ s\)", done);     // the final answer replaced the canvas

            Send(session, "/set steps 8", "Enter");
            WaitFor(session, s => s.Contains("steps = 8"), "the /set confirmation");
            Send(session, "again", "Enter");
            WaitFor(session, s => s.Contains("8 steps,"), "an answer decoded in 8 steps");

            Send(session, "/set steps 32", "Enter");
            Send(session, "once more", "Enter");
            WaitFor(session, s => CountOccurrences(s, "masked") > 0 && s.Contains("/32"), "the third answer denoising");
            Send(session, "C-c");
            string cancelled = WaitFor(session, s => s.Contains("(cancelled)"), "the cancel note");
            Assert.True(SessionAlive(session), "Ctrl+C during an answer ended the chat:\n" + cancelled);
            Send(session, "/exit", "Enter");
            var clock = Stopwatch.StartNew();
            while (SessionAlive(session) && clock.Elapsed < Patience) Thread.Sleep(100);
            Assert.False(SessionAlive(session), "/exit did not end the chat");
        }
        finally
        {
            if (SessionAlive(session)) Tmux("kill-session", "-t", session);
        }
    }

    private static int CountPrompts(string screen) => CountOccurrences(screen, "you ›");

    private static int CountOccurrences(string s, string what)
    {
        int n = 0;
        for (int i = s.IndexOf(what, StringComparison.Ordinal); i >= 0; i = s.IndexOf(what, i + what.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    private static string WaitFor(string session, Func<string, bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        string screen = "";
        while (clock.Elapsed < Patience)
        {
            screen = Tmux("capture-pane", "-p", "-t", session).Out;
            if (condition(screen)) return screen;
            Thread.Sleep(50);
        }
        throw new Xunit.Sdk.XunitException($"timed out waiting for {what}; the screen was:\n{screen}");
    }

    private static void Send(string session, params string[] keys) => Tmux(["send-keys", "-t", session, .. keys]);

    private static bool SessionAlive(string session) => Tmux("has-session", "-t", session).Code == 0;

    private static bool TmuxAvailable()
    {
        try { return Tmux("-V").Code == 0; }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    /// <summary>A private tmux server for this test process, so no other tmux user is disturbed.</summary>
    private static readonly string Socket = "dllm-test-" + Environment.ProcessId;

    private static (int Code, string Out) Tmux(params string[] args)
    {
        var psi = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (args is not ["-V"]) { psi.ArgumentList.Add("-L"); psi.ArgumentList.Add(Socket); }
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["LANG"] = "C.UTF-8";
        using Process p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }
}
