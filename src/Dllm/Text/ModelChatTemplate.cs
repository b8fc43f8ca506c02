using Dllm.Text.Jinja;

namespace Dllm.Text;

/// <summary>
/// A model's own chat template (the Jinja <c>chat_template</c> of its tokenizer_config.json, or its
/// chat_template.jinja), compiled, with the special-token strings it is rendered with.
/// </summary>
/// <remarks>
/// <para><see cref="Render"/> passes what transformers' <c>apply_chat_template</c> passes: <c>messages</c> (a list
/// of <c>{role, content}</c> dicts), <c>add_generation_prompt</c>, <c>tools</c> and <c>documents</c> (None),
/// the special tokens (<c>bos_token</c>, <c>eos_token</c>, <c>pad_token</c>, <c>unk_token</c>, <c>mask_token</c>,
/// those the config names), and any extra variables (e.g. Qwen3's <c>enable_thinking</c>).</para>
/// <para>Immutable; renders concurrently.</para>
/// </remarks>
public sealed class ModelChatTemplate
{
    private readonly IReadOnlyDictionary<string, string> _specialTokens;

    /// <summary>Compiles <paramref name="source"/>.</summary>
    /// <param name="source">The Jinja source.</param>
    /// <param name="name">Where it came from, for error messages (e.g. "DIR/tokenizer_config.json chat_template").</param>
    /// <param name="specialTokens">Variables such as <c>bos_token</c> → <c>&lt;|startoftext|&gt;</c>.</param>
    /// <exception cref="TemplateException">Bad template syntax (message names <paramref name="name"/> and the line).</exception>
    public ModelChatTemplate(string source, string name, IReadOnlyDictionary<string, string> specialTokens)
    {
        ArgumentNullException.ThrowIfNull(specialTokens);
        Template = JinjaTemplate.Parse(source, name);
        _specialTokens = specialTokens;
    }

    /// <summary>The compiled template.</summary>
    public JinjaTemplate Template { get; }

    /// <summary>The conversation as the model's prompt text (special tokens spelled out).</summary>
    /// <param name="messages">The turns in order; may be empty.</param>
    /// <param name="addGenerationPrompt">Ask the template to open the assistant's turn (some templates, e.g.
    /// LLaDA-8B-Instruct's, always do).</param>
    /// <param name="variables">Extra template variables; they override the defaults of the same name.</param>
    /// <exception cref="TemplateException">The template failed or refused the conversation (<c>raise_exception</c>).</exception>
    /// <exception cref="ArgumentNullException">A null message, role or content.</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true,
        IReadOnlyDictionary<string, object?>? variables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = new List<object?>(messages.Count);
        foreach (ChatMessage m in messages)
        {
            ArgumentNullException.ThrowIfNull(m);
            ArgumentNullException.ThrowIfNull(m.Role, nameof(ChatMessage.Role));
            ArgumentNullException.ThrowIfNull(m.Content, nameof(ChatMessage.Content));
            list.Add(new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content });
        }
        var vars = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = list,
            ["add_generation_prompt"] = addGenerationPrompt,
            ["tools"] = null,
            ["documents"] = null,
        };
        foreach (var (k, v) in _specialTokens) vars[k] = v;
        if (variables is not null) foreach (var (k, v) in variables) vars[k] = v;
        return Template.Render(vars);
    }
}
