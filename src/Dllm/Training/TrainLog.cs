using System.Globalization;

namespace Dllm.Training;

/// <summary>
/// The CSV log the trainer writes next to its checkpoint (<c>train_log.csv</c>:
/// <c>step,loss,grad_norm,lr,tokens_per_s</c>, one row per optimizer step). Reading it back is what
/// the loss plot uses, so a resumed run (whose log was truncated to the resumed step and appended to)
/// plots as one curve.
/// </summary>
public static class TrainLog
{
    /// <summary>File name inside the output directory.</summary>
    public const string FileName = "train_log.csv";

    /// <summary>Header line, also the column order of each row.</summary>
    public const string Header = "step,loss,grad_norm,lr,tokens_per_s";

    /// <summary>One row: the optimizer step (1-based) and its training loss.</summary>
    public readonly record struct Row(long Step, double Loss);

    /// <summary>Reads the (step, loss) columns.</summary>
    /// <exception cref="FileNotFoundException">No log at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The header is not the trainer's or a row does not parse;
    /// the message names the file and line.</exception>
    public static List<Row> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"training log '{path}' does not exist", path);
        var rows = new List<Row>();
        int lineNo = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNo++;
            if (lineNo == 1)
            {
                if (line != Header) throw new InvalidDataException($"{path}:1: expected the header '{Header}'");
                continue;
            }
            if (line.Length == 0) continue;
            string[] f = line.Split(',');
            if (f.Length < 2 || !long.TryParse(f[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out long step)
                || !double.TryParse(f[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double loss))
                throw new InvalidDataException($"{path}:{lineNo}: expected 'step,loss,...', got '{line}'");
            rows.Add(new Row(step, loss));
        }
        return rows;
    }
}
