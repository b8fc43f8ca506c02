using System.Text;
using Dllm.Sampling;
using Dllm.Text;
using Spectre.Console;

namespace Dllm.Cli;

/// <summary>
/// The answer canvas of one denoising step as Spectre markup, for <c>dllm chat</c>'s live view (LLaDA's
/// web demo shows the same): still-masked positions as <see cref="MaskGlyph"/>, tokens committed in this
/// step coloured by their confidence (green ≥ 0.9, yellow ≥ 0.5, red below), earlier tokens plain; EOS /
/// end-of-turn padding shows as <see cref="EosGlyph"/> (coloured in the step it is committed, dim after).
/// </summary>
/// <remarks>Runs of consecutive tokens with the same style are decoded together, so a multi-byte UTF-8
/// character whose bytes were committed in one step shows whole; one split across steps shows as U+FFFD
/// until the view is redrawn with both halves old.</remarks>
internal static class ChatCanvasView
{
    public const char MaskGlyph = '░';
    public const char EosGlyph = '·';

    private enum Style { Old, Mask, High, Mid, Low }

    private enum Kind { Text, Mask, Stop }

    /// <summary>Markup of the answer part of <paramref name="step"/>'s canvas and a one-line status under it.</summary>
    public static string Render(DenoisingStep step, ITokenizer tok, int eosId, int? eotId, int totalSteps)
    {
        var fresh = new Dictionary<int, double>();
        for (int i = 0; i < step.CommittedPositions.Length; i++) fresh[step.CommittedPositions[i]] = step.CommittedScores[i];
        var sb = new StringBuilder();
        var run = new List<int>();
        (Style Style, Kind Kind) current = (Style.Old, Kind.Text);
        void Flush()
        {
            if (run.Count == 0) return;
            string text = current.Kind switch
            {
                Kind.Mask => new string(MaskGlyph, run.Count),
                Kind.Stop => new string(EosGlyph, run.Count),
                _ => tok.Decode(run, skipSpecialTokens: true),
            };
            string escaped = Markup.Escape(text);
            sb.Append(current switch
            {
                (Style.Mask, _) => $"[grey]{escaped}[/]",
                (Style.High, _) => $"[bold green]{escaped}[/]",
                (Style.Mid, _) => $"[bold yellow]{escaped}[/]",
                (Style.Low, _) => $"[bold red]{escaped}[/]",
                (_, Kind.Stop) => $"[grey35]{escaped}[/]",
                _ => escaped,
            });
            run.Clear();
        }
        for (int p = step.PromptLength; p < step.Canvas.Length; p++)
        {
            int id = step.Canvas[p];
            Kind kind = id == step.MaskId ? Kind.Mask : id == eosId || id == eotId ? Kind.Stop : Kind.Text;
            Style style = kind == Kind.Mask ? Style.Mask
                : fresh.TryGetValue(p, out double c) ? (c >= 0.9 ? Style.High : c >= 0.5 ? Style.Mid : Style.Low)
                : Style.Old;
            if ((style, kind) != current) { Flush(); current = (style, kind); }
            run.Add(id);
        }
        Flush();
        int masked = step.Canvas.AsSpan(step.PromptLength).Count(step.MaskId);
        sb.Append($"\n[grey]step {step.Step + 1}/{totalSteps} · block {step.Block + 1} · {masked} masked[/]");
        return sb.ToString();
    }
}
