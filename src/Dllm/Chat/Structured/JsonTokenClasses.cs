using Dllm.Text;

namespace Dllm.Chat.Structured;

/// <summary>
/// The vocabulary sorted by what a token may be inside JSON, from each token's own text (decoded alone):
/// string content (no quote, backslash, control character or broken UTF-8), digits, a first digit run (no
/// leading zero) and JSON white space. Special tokens (EOS, mask, chat headers) and ids the tokenizer does not
/// have (a model's padded vocabulary) belong to no class, so structured output never writes them.
/// </summary>
/// <remarks>Built once per tokenizer (one decode per id; about 0.1 s for LLaDA's 126k ids).</remarks>
public sealed class JsonTokenClasses
{
    /// <summary>Tokens allowed inside a JSON string, as they are (no escaping needed).</summary>
    public bool[] StringContent { get; }
    /// <summary>Tokens made only of ASCII digits.</summary>
    public bool[] Digits { get; }
    /// <summary>Digit tokens that may start a number: not starting with 0 (JSON has no leading zeros).</summary>
    public bool[] LeadDigits { get; }
    /// <summary>Tokens made only of JSON white space (space, tab, newline, carriage return).</summary>
    public bool[] Blank { get; }
    /// <summary>The single token whose text is "0" (a number slot may hold just 0), or −1 when there is none.</summary>
    public int Zero { get; }
    /// <summary>The token a choice is padded with: the single token of " ", else the first blank token.</summary>
    public int Space { get; }
    /// <summary>The tokenizer the classes were built from (its Encode lays out the scaffold).</summary>
    public ITokenizer Tokenizer { get; }
    /// <summary>Length of the arrays: the model's vocabulary size.</summary>
    public int VocabSize { get; }

    /// <param name="tokenizer">Decodes each id.</param>
    /// <param name="vocabSize">The model's logits length (may exceed the tokenizer's vocabulary).</param>
    /// <exception cref="InvalidOperationException">The vocabulary has no digit or no white-space token (structured output impossible).</exception>
    public JsonTokenClasses(ITokenizer tokenizer, int vocabSize)
    {
        Tokenizer = tokenizer;
        VocabSize = vocabSize;
        StringContent = new bool[vocabSize];
        Digits = new bool[vocabSize];
        LeadDigits = new bool[vocabSize];
        Blank = new bool[vocabSize];
        int usable = Math.Min(vocabSize, tokenizer.VocabSize);
        for (int id = 0; id < usable; id++)
        {
            string text = tokenizer.Decode([id], skipSpecialTokens: true);
            if (text.Length == 0 || text != tokenizer.Decode([id])) continue; // special, or nothing
            bool safe = true, digits = true, blank = true;
            foreach (char c in text)
            {
                if (c is '"' or '\\' or '\uFFFD' || c < 0x20) safe = false;
                if (c is < '0' or > '9') digits = false;
                if (c is not (' ' or '\t' or '\n' or '\r')) blank = false;
            }
            StringContent[id] = safe;
            Digits[id] = digits;
            LeadDigits[id] = digits && text[0] != '0';
            Blank[id] = blank;
        }
        IReadOnlyList<int> zero = tokenizer.Encode("0");
        Zero = zero.Count == 1 && zero[0] < vocabSize && Digits[zero[0]] ? zero[0] : -1;
        IReadOnlyList<int> space = tokenizer.Encode(" ");
        Space = space.Count == 1 && space[0] < vocabSize && Blank[space[0]] ? space[0] : Array.IndexOf(Blank, true);
        if (Space < 0 || !LeadDigits.Contains(true))
            throw new InvalidOperationException("this vocabulary has no white-space or no digit token: structured output is not possible with it");
    }
}
