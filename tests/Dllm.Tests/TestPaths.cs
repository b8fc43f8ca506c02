namespace Dllm.Tests;

/// <summary>Where test data lives: tests/golden is copied next to the test binary as golden/.</summary>
internal static class TestPaths
{
    public static string Golden(params string[] parts)
        => Path.Combine([AppContext.BaseDirectory, "golden", .. parts]);

    /// <summary>The bundled chat model (models/chat-1m), found by walking up from the test binary.</summary>
    public static string BundledModel()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "models", "chat-1m");
            if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
        }
        throw new DirectoryNotFoundException("models/chat-1m not found above the test binary");
    }

    /// <summary>A fresh empty directory under the system temp folder.</summary>
    public static string TempDir()
    {
        string d = Path.Combine(Path.GetTempPath(), "dllm-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }
}
