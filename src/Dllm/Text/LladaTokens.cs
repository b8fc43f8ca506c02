namespace Dllm.Text;

/// <summary>
/// The names of the special tokens LLaDA uses. Ids differ between tokenizers (126080... in the real
/// checkpoint, 256... in <see cref="ByteTokenizer"/>), so code should look ids up by these names.
/// </summary>
public static class LladaTokens
{
    /// <summary>Beginning of sequence; the chat template starts with it.</summary>
    public const string StartOfText = "<|startoftext|>";

    /// <summary>End of sequence, also the padding token that fills an unused generation tail.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>The mask token the model denoises.</summary>
    public const string Mask = "<|mdm_mask|>";

    /// <summary>Opens a chat role header.</summary>
    public const string StartHeader = "<|start_header_id|>";

    /// <summary>Closes a chat role header.</summary>
    public const string EndHeader = "<|end_header_id|>";

    /// <summary>Ends one chat turn; instruct models emit it before padding with EOS.</summary>
    public const string EndOfTurn = "<|eot_id|>";
}
