using Microsoft.Playwright;

namespace Dllm.Tests.Serving;

/// <summary>
/// The web page in a real browser (Playwright driving Debian's /usr/bin/chromium, headless): type a prompt,
/// watch the canvas denoise live, get the final answer, save a screenshot (browser-test.png next to the
/// test binary). Without chromium the test is skipped, unless DLLM_REQUIRE_BROWSER=1 (CI), where it fails.
/// </summary>
public class BrowserTests
{
    private const string Chromium = "/usr/bin/chromium";
    private const string Answer = "Hello from a diffusion model";

    [Fact]
    public async Task ThePageShowsTheCanvasDenoisingAndTheFinalAnswer()
    {
        if (!File.Exists(Chromium))
        {
            Assert.False(Environment.GetEnvironmentVariable("DLLM_REQUIRE_BROWSER") == "1", $"{Chromium} is missing and DLLM_REQUIRE_BROWSER=1 (install it: apt-get install chromium)");
            Assert.Skip($"{Chromium} is not installed (apt-get install chromium); set DLLM_REQUIRE_BROWSER=1 to make this a failure");
        }
        // A slow scripted model (20 ms per forward) so the live view has time to show intermediate canvases.
        await using LoopbackServer server = await LoopbackServer.ScriptedAsync(Answer, () => Thread.Sleep(20));
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        IPage page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 720 } });
        var consoleErrors = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") consoleErrors.Add(m.Text); };

        await page.GotoAsync(server.BaseUrl + "/");
        await page.Locator("#model").Filter(new LocatorFilterOptions { HasText = "tiny" }).WaitForAsync();
        await page.FillAsync("#max_tokens", "32");
        await page.FillAsync("#steps", "32");
        await page.FillAsync("#prompt", "Hi");
        await page.ClickAsync("#send");

        // Watch the live canvas: record the number of masked cells each time it changes.
        var maskedCounts = new List<int>();
        string midway = Path.Combine(AppContext.BaseDirectory, "browser-test-midway.png");
        File.Delete(midway);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            int cells = await page.Locator("#canvas span").CountAsync();
            int masked = await page.Locator("#canvas span.masked").CountAsync();
            if (cells > 0 && (maskedCounts.Count == 0 || maskedCounts[^1] != masked))
            {
                maskedCounts.Add(masked);
                if (masked is > 8 and < 24 && !File.Exists(midway)) await page.ScreenshotAsync(new PageScreenshotOptions { Path = midway });
            }
            if (await page.Locator(".msg.assistant[data-done=true]").CountAsync() > 0) break;
            await Task.Delay(15, TestContext.Current.CancellationToken);
        }
        string answer = await page.Locator(".msg.assistant").Last.InnerTextAsync();
        string screenshot = Path.Combine(AppContext.BaseDirectory, "browser-test.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot });

        Assert.Equal(Answer, answer);
        int[] intermediate = [.. maskedCounts.Where(m => m is > 0 and < 32)];
        Assert.True(intermediate.Length >= 2, $"expected at least two intermediate canvases, saw masked counts [{string.Join(", ", maskedCounts)}]");
        Assert.Equal(32, await page.EvaluateAsync<int>("window.dllm.frames.length")); // one frame per step
        Assert.Equal(0, await page.Locator("#canvas span.masked").CountAsync());
        Assert.True(consoleErrors.Count == 0, "console errors: " + string.Join(" | ", consoleErrors));
        Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot is empty");
    }
}
