namespace Dllm.Text;

/// <summary>
/// LLaDA's (Llama-3-style) chat template:
/// <c>&lt;|startoftext|&gt;</c>, then per message
/// <c>&lt;|start_header_id|&gt;ROLE&lt;|end_header_id|&gt;\n\n</c> + trimmed content + <c>&lt;|eot_id|&gt;</c>,
/// then, for generation, <c>&lt;|start_header_id|&gt;assistant&lt;|end_header_id|&gt;\n\n</c>.
/// </summary>
/// <remarks>
/// <para><see cref="Apply"/> gives the same ids as encoding <see cref="Render"/>'s text in one go (what
/// <c>tokenizer.apply_chat_template(..., tokenize=True)</c> does), because encoding cuts text at special
/// tokens first: the pieces between them are encoded exactly as here. Building ids piecewise lets BOS be
/// the tokenizer's <see cref="ITokenizer.BosId"/> even when it was overridden at load time.</para>
/// <para>As in HF, content that literally contains special-token text (e.g. "&lt;|eot_id|&gt;") is
/// encoded as that special token. Sanitize untrusted input if that matters.</para>
/// </remarks>
public static class ChatTemplate
{
    /// <summary>Role of the generation prompt appended by <c>addGenerationPrompt</c>.</summary>
    public const string AssistantRole = "assistant";

    /// <summary>Tokenizes a conversation for the model.</summary>
    /// <param name="tok">Tokenizer; must know BOS, <c>&lt;|start_header_id|&gt;</c>, <c>&lt;|end_header_id|&gt;</c>
    /// and <c>&lt;|eot_id|&gt;</c>.</param>
    /// <param name="messages">The turns in order; may be empty (then only BOS and, if asked, the assistant header).</param>
    /// <param name="addGenerationPrompt">Append the assistant header so the model answers next.</param>
    /// <returns>A fresh list the caller may extend (e.g. with mask tokens).</returns>
    /// <exception cref="ArgumentNullException">A null argument, message, role or content.</exception>
    /// <exception cref="InvalidDataException">The tokenizer lacks BOS or one of the chat special tokens (a tokenizer
    /// file this template cannot be used with: use raw text or token ids).</exception>
    public static List<int> Apply(ITokenizer tok, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(tok);
        ArgumentNullException.ThrowIfNull(messages);
        int bos = tok.BosId ?? throw new InvalidDataException(
            "the tokenizer has no BOS token; the LLaDA chat template starts with <|startoftext|> (use --raw or --prompt-ids)");
        int startHeader = Require(tok, LladaTokens.StartHeader);
        int endHeader = Require(tok, LladaTokens.EndHeader);
        int endOfTurn = Require(tok, LladaTokens.EndOfTurn);

        var ids = new List<int> { bos };
        void Header(string role)
        {
            ids.Add(startHeader);
            ids.AddRange(tok.Encode(role));
            ids.Add(endHeader);
        }
        foreach (ChatMessage m in messages)
        {
            Validate(m);
            Header(m.Role);
            // "\n\n" and the content form one text run between two special tokens: encode them together,
            // as a whole-string tokenizer would, in case a merge spans the boundary.
            ids.AddRange(tok.Encode("\n\n" + m.Content.Trim()));
            ids.Add(endOfTurn);
        }
        if (addGenerationPrompt)
        {
            Header(AssistantRole);
            ids.AddRange(tok.Encode("\n\n"));
        }
        return ids;
    }

    /// <summary>The template as text (special tokens spelled out), for display and tests.</summary>
    /// <exception cref="ArgumentNullException">A null list, message, role or content.</exception>
    public static string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var sb = new System.Text.StringBuilder(LladaTokens.StartOfText);
        foreach (ChatMessage m in messages)
        {
            Validate(m);
            sb.Append(LladaTokens.StartHeader).Append(m.Role).Append(LladaTokens.EndHeader).Append("\n\n")
              .Append(m.Content.Trim()).Append(LladaTokens.EndOfTurn);
        }
        if (addGenerationPrompt)
            sb.Append(LladaTokens.StartHeader).Append(AssistantRole).Append(LladaTokens.EndHeader).Append("\n\n");
        return sb.ToString();
    }

    private static int Require(ITokenizer tok, string name)
        => tok.TokenToId(name) ?? throw new InvalidDataException(
            $"the tokenizer has no {name} token, which the LLaDA chat template needs");

    private static void Validate(ChatMessage m)
    {
        ArgumentNullException.ThrowIfNull(m);
        ArgumentNullException.ThrowIfNull(m.Role, nameof(ChatMessage.Role));
        ArgumentNullException.ThrowIfNull(m.Content, nameof(ChatMessage.Content));
    }
}
