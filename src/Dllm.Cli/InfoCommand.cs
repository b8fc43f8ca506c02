using System.CommandLine;
using Dllm.IO;
using Dllm.Model;
using Dllm.Tensors;

namespace Dllm.Cli;

/// <summary><c>dllm info</c>: the config, parameter count and storage dtypes of a checkpoint; for a mixture-of-experts
/// model also its experts and the parameters active per token.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var cmd = new Command("info", "Print a checkpoint's config, parameter count and dtypes") { model };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            string dir = ModelOption.Resolve(r.GetValue(model));
            string configPath = Path.Combine(dir, "config.json");
            if (!File.Exists(configPath)) throw new FileNotFoundException($"no config.json in '{dir}'", configPath);
            ModelConfig c = ModelConfig.Load(configPath);
            using Checkpoint ckpt = Checkpoint.Open(dir);
            long parameters = 0, bytes = 0;
            var byType = new SortedDictionary<string, long>();
            foreach (TensorInfo t in ckpt.Tensors.Values)
            {
                long count = 1;
                foreach (long s in t.Shape) count *= s;
                parameters += count;
                bytes += t.ByteLength;
                string key = t.DType.SafeTensorsName();
                byType[key] = byType.GetValueOrDefault(key) + count;
            }
            Console.WriteLine($"model:       {dir}");
            Console.WriteLine($"family:      {Family(c)}");
            Console.WriteLine($"kind:        {c.KindName}   attention: {c.AttentionName}");
            if (c.IsContinuous)
                Console.WriteLine($"diffusion:   T {c.DiffusionSteps}, {c.NoiseSchedule} schedule{(c.Kind == ModelKind.SsdLm ? $", simplex K {c.SimplexK}, blocks of {c.SsdBlockSize}" : "")}");
            Console.WriteLine($"layers:      {c.NLayers}   d_model: {c.DModel}   heads: {c.NHeads} (kv {c.NKvHeads ?? c.NHeads}, head dim {c.HeadDim})");
            string mlp = c.Moe is { HasDenseLayer: false } ? "none (every layer is MoE)" : c.MlpHiddenSize.ToString();
            Console.WriteLine($"mlp hidden:  {mlp}   vocab: {c.VocabSize} (embedding {c.EmbeddingSize ?? c.VocabSize})   tied head: {c.WeightTying}");
            if (c.Moe is MoeConfig m)
            {
                string shared = m.SharedExpertHidden > 0 ? $" + shared expert {m.SharedExpertHidden}" : "";
                Console.WriteLine($"experts:     {m.Experts} × {m.ExpertHidden} wide, top-{m.TopK}{shared}, in {m.MoeLayerCount} of {c.NLayers} layers" +
                    $"{(m.ExpertBias ? ", expert bias" : "")}   aux loss coef: {m.AuxLossCoef}");
            }
            Console.WriteLine($"rope theta:  {c.RopeTheta}   max sequence: {c.MaxSequenceLength}   rms eps: {c.RmsNormEps}");
            Console.WriteLine($"tokens:      eos {Id(c.EosTokenId)}   mask {Id(c.MaskTokenId)}{(c.BosTokenId is int bos ? $"   bos {bos}" : "")}");
            Console.WriteLine($"tensors:     {ckpt.Tensors.Count}");
            Console.WriteLine($"parameters:  {parameters:N0} ({bytes / (1024.0 * 1024.0):F1} MiB on disk)");
            if (c.Moe is MoeConfig moe)
            {
                long active = parameters - moe.InactiveParametersPerToken(c.DModel);
                Console.WriteLine($"active:      {active:N0} per token ({100.0 * active / parameters:F1} %: top-{moe.TopK} of {moe.Experts} experts)");
            }
            foreach (var (dt, n) in byType) Console.WriteLine($"dtype {dt,-5}  {n:N0} parameters");
            return 0;
        }));
        return cmd;
    }

    /// <summary>"Qwen3 (Qwen3ForCausalLM; q/k norm)": the family, its architecture and what sets its block apart.</summary>
    internal static string Family(ModelConfig c)
    {
        var traits = new List<string>();
        if (c.IncludeQkvBias || c.IncludeOutBias) traits.Add(c.IncludeQkvBias ? c.IncludeOutBias ? "q/k/v/o bias" : "q/k/v bias" : "o bias");
        if (c.Names.Qkv.Length > 0) traits.Add("fused q/k/v");
        if (c.QkNorm) traits.Add("q/k norm");
        if (c.RopeDim != c.HeadDim) traits.Add($"RoPE on {c.RopeDim} of {c.HeadDim} head dims");
        if (c.ShiftLogits) traits.Add("logits shifted by one");
        if (c.Moe is not null) traits.Add("mixture of experts");
        return $"{c.Spec.Name} ({c.Spec.Architecture}{(traits.Count > 0 ? "; " + string.Join(", ", traits) : "")})";
    }

    private static string Id(int id) => id == ModelConfig.NoToken ? "none" : id.ToString();
}
