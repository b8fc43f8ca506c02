using Dllm.IO;
using Dllm.Model;
using Dllm.Sampling;

namespace Dllm.Tests.Reference;

/// <summary>
/// llama.cpp's <c>libllama</c> (LLamaSharp 0.30.0 and its CPU backend) as a second, outside
/// implementation of the transformer: a tiny golden checkpoint is exported to an F32 GGUF
/// (<see cref="GgufExport"/>), run by libllama (flash attention off, the whole canvas in one ubatch,
/// logits at every position) and compared with Dllm's <see cref="Transformer.Logits"/>; then greedy
/// diffusion decoding with <see cref="DiffusionSampler"/> must give the same canvas on both.
/// </summary>
/// <remarks>
/// Dream: llama.cpp's <c>dream</c> graph returns the model's raw output at every position and leaves the
/// shift to its diffusion example (<c>diffusion.shift_logits</c>), which reads position p's logits from
/// row p − 1 and position 0 from its own row. Dllm's <c>Logits</c> already applies that shift, so the
/// llama.cpp rows are shifted the same way before comparing (<see cref="LlamaCppModel"/>).
/// </remarks>
public sealed class LlamaCppTests(ITestOutputHelper output)
{
    /// <summary>Max |Dllm − llama.cpp| over every logit, relative to the largest |logit|.</summary>
    private const double Tolerance = 1e-4;

    public static TheoryData<string> Exportable => new()
    {
        "tiny-f32",              // LLaDA, MHA, F32
        "tiny-bf16-gqa",         // LLaDA, GQA, BF16 sharded (widened to F32 for llama.cpp)
        "tiny-tied",             // LLaDA, tied embedding (written twice)
        "qwen/dream-f32",        // Dream: q/k/v biases, NEOX rope, shifted logits
        "lladamoe/tiny-qknorm",  // LLaDA-MoE with q/k norms: llama.cpp's llada-moe layout
    };

    [Theory]
    [MemberData(nameof(Exportable))]
    public void Logits_match_llama_cpp(string golden)
    {
        using var dllm = Transformer.Load(TestPaths.Golden(golden.Split('/')));
        using var cpp = LlamaCppModel.Export(TestPaths.Golden(golden.Split('/')));
        Assert.Equal(dllm.VocabSize, cpp.VocabSize);
        int v = dllm.VocabSize, mask = dllm.Config.MaskTokenId;
        var rng = new Random(1234);
        double worst = 0;
        foreach (int length in new[] { 1, 7, 16, 32 })
        {
            int[] tokens = [.. Enumerable.Range(0, length).Select(_ => rng.Next(4) == 0 ? mask : rng.Next(v))];
            int[] positions = [.. Enumerable.Range(0, length)];
            var expected = new float[length * v];
            var actual = new float[length * v];
            dllm.Logits(tokens, 1, length, positions, expected);
            cpp.Logits(tokens, 1, length, positions, actual);
            double scale = expected.Max(x => Math.Abs((double)x)), diff = 0;
            for (int i = 0; i < expected.Length; i++) diff = Math.Max(diff, Math.Abs((double)expected[i] - actual[i]));
            double rel = diff / scale;
            worst = Math.Max(worst, rel);
            Assert.True(rel <= Tolerance, $"{golden}, canvas {length}: max |Dllm − llama.cpp| = {diff:E2}, {rel:E2} of the largest |logit| {scale:F3} (tolerance {Tolerance:E0})");
        }
        output.WriteLine($"{golden} ({cpp.Architecture}): max relative logit difference {worst:E2}");
    }

    [Theory]
    [MemberData(nameof(Exportable))]
    public void Greedy_decoding_matches_llama_cpp(string golden)
    {
        using var dllm = Transformer.Load(TestPaths.Golden(golden.Split('/')));
        using var cpp = LlamaCppModel.Export(TestPaths.Golden(golden.Split('/')));
        int mask = dllm.Config.MaskTokenId;
        var options = new DecodingOptions { GenLength = 8, Steps = 8, BlockLength = 8 };
        var rng = new Random(99);
        for (int k = 0; k < 3; k++)
        {
            int[] prompt = [.. Enumerable.Range(0, 3 + 2 * k).Select(_ => rng.Next(mask))];
            GenerationResult ours = new DiffusionSampler(dllm, mask).Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
            GenerationResult theirs = new DiffusionSampler(cpp, mask).Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(ours.Canvas, theirs.Canvas);
            output.WriteLine($"{golden}: prompt [{string.Join(' ', prompt)}] → [{string.Join(' ', ours.Answer.ToArray())}] on both");
        }
    }

    [Theory]
    [InlineData("lladamoe/tiny", "q/k norms")]
    [InlineData("lladamoe/tiny-shared", "q/k norms")]
    public void Llada_moe_without_qk_norms_is_refused(string golden, string reason)
    {
        var e = Assert.Throws<NotSupportedException>(() => GgufExport.Write(TestPaths.Golden(golden.Split('/')), Path.Combine(TestPaths.TempDir(), "x.gguf")));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Causal_families_are_refused()
    {
        ModelConfig qwen = ModelConfig.Load(TestPaths.Golden("qwen", "qwen3-f32", "config.json"));
        var e = Assert.Throws<NotSupportedException>(() => GgufExport.ArchitectureOf(qwen));
        Assert.Contains("Qwen3", e.Message);
    }

    [Fact]
    public void Llada_q_k_rows_are_permuted_to_adjacent_pairs()
    {
        // one head of width 4 over 1 column: rows (0, 1 | 2, 3) = halves (x0, x1 | y0, y1) become x0 y0 x1 y1
        Assert.Equal([0f, 2f, 1f, 3f, 4f, 6f, 5f, 7f], GgufExport.PermuteRows([0, 1, 2, 3, 4, 5, 6, 7], heads: 2, headDim: 4, cols: 1));
    }
}
