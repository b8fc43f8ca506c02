using Dllm.Text;
using Xunit;

namespace Dllm.Tests.Text;

public class TokenizerLoaderTests
{
    [Fact]
    public void Loads_hf_bpe_from_directory_or_file()
    {
        string dir = TestPaths.TempDir();
        File.Copy(GoldenTokenizer.JsonPath, Path.Combine(dir, "tokenizer.json"));
        Assert.IsType<HfBpeTokenizer>(TokenizerLoader.Load(dir));
        Assert.IsType<HfBpeTokenizer>(TokenizerLoader.Load(GoldenTokenizer.JsonPath));
    }

    [Fact]
    public void Missing_tokenizer_json_suggests_prompt_ids()
    {
        string dir = TestPaths.TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => TokenizerLoader.Load(dir));
        Assert.Contains("no tokenizer.json in " + dir, e.Message);
        Assert.Contains("--prompt-ids", e.Message);
    }

    [Fact]
    public void Malformed_json_names_the_file()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(path, "not json");
        var e = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(dir));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Unknown_dllm_tokenizer_kind_is_not_supported()
    {
        string dir = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), """{"dllm_tokenizer": "char", "version": 1}""");
        var e = Assert.Throws<NotSupportedException>(() => TokenizerLoader.Load(dir));
        Assert.Contains("char", e.Message);
    }

    [Fact]
    public void WordPiece_is_not_supported()
    {
        string dir = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), """{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}}""");
        var e = Assert.Throws<NotSupportedException>(() => TokenizerLoader.Load(dir));
        Assert.Contains("WordPiece", e.Message);
    }
}
