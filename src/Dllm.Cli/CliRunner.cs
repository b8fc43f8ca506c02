using System.Text.Json;
using Dllm.Sampling;

namespace Dllm.Cli;

/// <summary>
/// Runs a verb and turns the errors a user can cause (bad flags, missing or corrupt model files)
/// into one "error: ..." line on stderr and exit code 1, instead of a stack trace. A decoding knob
/// in such a line is spelled as its flag (<c>--block-length</c>, <see cref="KnobOptions.Flag"/>).
/// Anything else is a bug and keeps its stack trace (exit code 2).
/// </summary>
internal static class CliRunner
{
    public static int Run(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {(e is DecodingOptionException k ? k.Spell(KnobOptions.Flag) : e.Message)}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled");
            return 130;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"internal error: {e}");
            return 2;
        }
    }

    private static bool IsUserError(Exception e) => e is ArgumentException or InvalidDataException
        or FileNotFoundException or DirectoryNotFoundException or NotSupportedException
        or KeyNotFoundException or JsonException or FormatException or UnauthorizedAccessException or IOException
        or Dllm.Text.Jinja.TemplateException;
}
