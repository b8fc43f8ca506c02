namespace Dllm.Tests;

/// <summary>Where test data lives: tests/golden is copied next to the test binary as golden/.</summary>
internal static class TestPaths
{
    public static string Golden(params string[] parts)
        => Path.Combine([AppContext.BaseDirectory, "golden", .. parts]);

    /// <summary>A fresh empty directory under the system temp folder.</summary>
    public static string TempDir()
    {
        string d = Path.Combine(Path.GetTempPath(), "dllm-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }
}
