namespace Dllm.Bench;

/// <summary>
/// What a benchmark table needs to say about the machine it ran on, read from Linux's <c>/proc</c>: the CPU model, which of
/// the SIMD extensions that decide the kernels (AVX2/FMA, AVX-512, VNNI, BF16, AMX) it has, the logical core count, and the
/// load average (printed at the start and the end of a run, so a busy machine shows in the output). Elsewhere (no
/// <c>/proc</c>) the fields say "unknown" rather than fail: a benchmark must not die for lack of a header.
/// </summary>
internal static class MachineInfo
{
    /// <summary>The flags /proc/cpuinfo spells for the extensions that matter to Dllm's and ggml's CPU kernels.</summary>
    private static readonly string[] SimdFlags =
        ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8"];

    /// <summary>"model name" of the first CPU in /proc/cpuinfo.</summary>
    public static string CpuModel() => CpuInfoField("model name") ?? "unknown CPU";

    /// <summary>The <see cref="SimdFlags"/> the first CPU has, space-separated.</summary>
    public static string Simd()
    {
        string? flags = CpuInfoField("flags");
        if (flags is null) return "unknown";
        var have = flags.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        string list = string.Join(' ', SimdFlags.Where(have.Contains));
        return list.Length > 0 ? list : "none of " + string.Join('/', SimdFlags);
    }

    /// <summary>The 1, 5 and 15 minute load averages from /proc/loadavg.</summary>
    public static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "unknown"; }
        catch (UnauthorizedAccessException) { return "unknown"; }
    }

    private static string? CpuInfoField(string name)
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                int colon = line.IndexOf(':');
                if (colon > 0 && line[..colon].Trim() == name) return line[(colon + 1)..].Trim();
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}
