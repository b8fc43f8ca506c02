using Dllm.Text;
using Dllm.Training;

namespace Dllm.Tests.Training;

/// <summary>JSONL pre-training data and the CSV log the loss plot reads.</summary>
public class TrainingDataTests
{
    private static readonly ByteTokenizer Tok = new();

    private static string Write(string name, string text)
    {
        string path = Path.Combine(TestPaths.TempDir(), name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void JsonlDocumentsAreEncodedInOrderEachFollowedByEos()
    {
        string path = Write("d.jsonl", "{\"text\": \"ab\", \"meta\": 1}\n\n{\"text\": \"c\"}\n");
        TextCorpus corpus = TextCorpus.Load([path, Write("plain.txt", "xy")], Tok, 1);
        Assert.Equal(new[] { 'a', 'b', ByteTokenizer.Eos, 'c', ByteTokenizer.Eos, 'x', 'y' }, corpus.Tokens);
    }

    [Fact]
    public void TrainLogReadsStepsAndLossesAndNamesABadLine()
    {
        string good = Write("train_log.csv", TrainLog.Header + "\n1,3.5,1,0.001,100\n2,2.25,1,0.001,100\n");
        Assert.Equal([new TrainLog.Row(1, 3.5), new TrainLog.Row(2, 2.25)], TrainLog.Read(good));
        string bad = Write("train_log.csv", TrainLog.Header + "\n1,3.5,1,0.001,100\n2,oops\n");
        Assert.Contains("train_log.csv:3:", Assert.Throws<InvalidDataException>(() => TrainLog.Read(bad)).Message);
        string noHeader = Write("train_log.csv", "1,3.5\n");
        Assert.Contains(":1: expected the header", Assert.Throws<InvalidDataException>(() => TrainLog.Read(noHeader)).Message);
    }
}
