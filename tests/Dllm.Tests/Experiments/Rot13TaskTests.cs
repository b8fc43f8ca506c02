using Dllm.Experiments;
using Dllm.Training;

namespace Dllm.Tests.Experiments;

public class Rot13TaskTests
{
    private const string Text = "In the beginning God created the heaven and the earth.\nAnd the earth was without form, and void; and darkness was upon the face of the deep.\n";

    [Fact]
    public void Rotate_moves_letters_13_on_keeps_the_rest_and_is_its_own_inverse()
    {
        Assert.Equal("Uryyb, Jbeyq! 42 nm", Rot13Task.Rotate("Hello, World! 42 az"));
        Assert.Equal("NOPQRSTUVWXYZABCDEFGHIJKLM", Rot13Task.Rotate("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
        string s = "And God said, Let there be light: and there was light.";
        Assert.Equal(s, Rot13Task.Rotate(Rot13Task.Rotate(s)));
        Assert.Equal("", Rot13Task.Rotate(""));
    }

    [Fact]
    public void Passages_have_the_exact_length_start_at_a_word_and_are_seeded()
    {
        List<TaskExample> a = Rot13Task.Generate(Text, 50, 20, seed: 3), b = Rot13Task.Generate(Text, 50, 20, seed: 3);
        Assert.Equal(a, b);
        Assert.NotEqual(a, Rot13Task.Generate(Text, 50, 20, seed: 4));
        string flat = Text.Replace("\n", " ").Trim();
        foreach (TaskExample e in a)
        {
            Assert.Equal(20, e.Prompt.Length);
            Assert.Equal(Rot13Task.Rotate(e.Prompt), e.Response);
            Assert.Equal("rot13", e.Kind);
            int at = flat.IndexOf(e.Prompt, StringComparison.Ordinal);
            Assert.True(at == 0 || flat[at - 1] == ' ', $"'{e.Prompt}' does not start at a word");
        }
        Assert.True(a.Select(e => e.Prompt).Distinct().Count() > 5, "passages should vary");
    }

    [Theory]
    [InlineData("naïve text here", 5, "printable ASCII")]
    [InlineData("short", 10, "fewer than one passage of 10")]
    [InlineData("some text", 0, "passage length must be in [1, 4096]")]
    public void Bad_input_is_refused_with_the_reason(string text, int length, string message)
        => Assert.Contains(message, Assert.Throws<ArgumentException>(() => Rot13Task.Generate(text, 3, length, 1)).Message);
}
