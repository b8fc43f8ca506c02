namespace Dllm.Text;

/// <summary>
/// Turns a conversation into prompt ids: with the model's own Jinja template when its tokenizer has one
/// (<see cref="ITokenizer.ModelTemplate"/>, from tokenizer_config.json), else with the built-in LLaDA
/// (Llama-3-style) template, which the bundled byte-level models use:
/// <c>&lt;|startoftext|&gt;</c>, then per message
/// <c>&lt;|start_header_id|&gt;ROLE&lt;|end_header_id|&gt;\n\n</c> + trimmed content + <c>&lt;|eot_id|&gt;</c>,
/// then, for generation, <c>&lt;|start_header_id|&gt;assistant&lt;|end_header_id|&gt;\n\n</c>.
/// </summary>
/// <remarks>
/// <para>With a model template, <see cref="Apply"/> renders it (<see cref="ModelChatTemplate.Render"/>) and
/// encodes the text in one go, which is what <c>tokenizer.apply_chat_template(..., tokenize=True)</c> does
/// (special tokens in the text become their ids; no BOS is added beyond what the template writes).</para>
/// <para>With the built-in template, <see cref="Apply"/> gives the same ids as encoding <see cref="Render(IReadOnlyList{ChatMessage}, bool)"/>'s text in one go (what
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
    /// <param name="tok">Tokenizer. Without a model template it must know BOS, <c>&lt;|start_header_id|&gt;</c>,
    /// <c>&lt;|end_header_id|&gt;</c> and <c>&lt;|eot_id|&gt;</c>.</param>
    /// <param name="messages">The turns in order; may be empty (then, built-in, only BOS and, if asked, the assistant header).</param>
    /// <param name="addGenerationPrompt">Open the assistant's turn so the model answers next.</param>
    /// <param name="templateVariables">Extra variables for a model template (e.g. <c>enable_thinking</c> = false
    /// for Qwen3); ignored by the built-in template.</param>
    /// <returns>A fresh list the caller may extend (e.g. with mask tokens).</returns>
    /// <exception cref="ArgumentNullException">A null argument, message, role or content.</exception>
    /// <exception cref="InvalidDataException">Built-in template: the tokenizer lacks BOS or one of the chat special
    /// tokens (a tokenizer file this template cannot be used with: use raw text or token ids).</exception>
    /// <exception cref="Jinja.TemplateException">Model template: it failed or refused the conversation.</exception>
    public static List<int> Apply(ITokenizer tok, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true,
        IReadOnlyDictionary<string, object?>? templateVariables = null)
    {
        ArgumentNullException.ThrowIfNull(tok);
        ArgumentNullException.ThrowIfNull(messages);
        if (tok.ModelTemplate is { } model)
            return [.. tok.Encode(model.Render(messages, addGenerationPrompt, templateVariables))];
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

    /// <summary>The conversation as prompt text with <paramref name="tok"/>'s template (model or built-in).</summary>
    /// <exception cref="ArgumentNullException">A null argument, message, role or content.</exception>
    /// <exception cref="Jinja.TemplateException">Model template: it failed or refused the conversation.</exception>
    public static string Render(ITokenizer tok, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true,
        IReadOnlyDictionary<string, object?>? templateVariables = null)
    {
        ArgumentNullException.ThrowIfNull(tok);
        return tok.ModelTemplate is { } model
            ? model.Render(messages, addGenerationPrompt, templateVariables)
            : Render(messages, addGenerationPrompt);
    }

    /// <summary>The built-in template as text (special tokens spelled out), for display and tests.</summary>
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
