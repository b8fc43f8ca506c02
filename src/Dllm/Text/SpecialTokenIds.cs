namespace Dllm.Text;

/// <summary>
/// The special ids of an <see cref="HfBpeTokenizer"/>, resolved from explicit options, tokenizer_config.json,
/// the model's config.json and finally well-known token names, in that order.
/// </summary>
/// <param name="Bos">Beginning of sequence, or null (Qwen has none).</param>
/// <param name="Eos">End of sequence.</param>
/// <param name="Mask">The mask the diffusion model denoises.</param>
/// <param name="EndOfTurn">The token an instruct model ends its turn with, or null.</param>
internal sealed record SpecialTokenIds(int? Bos, int Eos, int Mask, int? EndOfTurn)
{
    /// <summary>End-of-turn tokens of the supported families: Llama-3/LLaDA, Qwen (ChatML), LLaDA2/Ling, Phi, Gemma.</summary>
    internal static readonly string[] KnownEndOfTurn = [LladaTokens.EndOfTurn, "<|im_end|>", "<|role_end|>", "<|end|>", "<end_of_turn>"];

    /// <summary>Mask tokens tried when nothing names one: LLaDA's, then LLaDA-MoE/LLaDA2's and Dream's.</summary>
    internal static readonly string[] KnownMasks = [LladaTokens.Mask, "<|mask|>"];

    /// <summary>
    /// Resolves every id.
    /// <list type="bullet">
    /// <item>EOS: <see cref="TokenizerOptions.EosId"/>, else the config's <c>eos_token</c>, else <c>&lt;|endoftext|&gt;</c>.</item>
    /// <item>BOS: <see cref="TokenizerOptions.BosId"/>, else the config's <c>bos_token</c> (null there means none),
    /// else, without a config, <c>&lt;|startoftext|&gt;</c> when present.</item>
    /// <item>Mask: <see cref="TokenizerOptions.MaskId"/>, <see cref="TokenizerOptions.MaskToken"/>, the config's
    /// <c>mask_token</c>, <see cref="TokenizerOptions.ModelMaskId"/>, then <see cref="KnownMasks"/>.</item>
    /// <item>End of turn: <see cref="TokenizerOptions.EndOfTurnToken"/>, else the first of <see cref="KnownEndOfTurn"/>
    /// that the chat template writes, else the config's <c>eos_token</c> when it is one of them, else
    /// <c>&lt;|eot_id|&gt;</c> when present (the rule before configs were read).</item>
    /// </list>
    /// </summary>
    /// <param name="find">Token text to id (added tokens and vocabulary), null when absent.</param>
    /// <param name="tokenizerPath">tokenizer.json, named in errors.</param>
    /// <param name="config">The parsed tokenizer_config.json, or null.</param>
    /// <param name="chatTemplate">The chat template source, or null.</param>
    /// <param name="options">Overrides.</param>
    /// <exception cref="InvalidDataException">A token named by a file or option is not in the vocabulary, or no
    /// EOS/mask can be found; the message names the file and field, and the option that fixes it.</exception>
    public static SpecialTokenIds Resolve(Func<string, int?> find, string tokenizerPath, TokenizerConfig? config,
        string? chatTemplate, TokenizerOptions options)
    {
        int? Named(string token, string source) => find(token)
            ?? throw new InvalidDataException($"{source} names token {token}, which is not in {tokenizerPath}");

        int eos = options.EosId
            ?? (config?.EosToken is { } e ? Named(e, $"{config.Path}: \"eos_token\"") : null)
            ?? find(LladaTokens.EndOfText)
            ?? throw new InvalidDataException(
                $"{tokenizerPath}: no eos_token in a tokenizer_config.json and no {LladaTokens.EndOfText} token; give the EOS id explicitly");

        int? bos = options.BosId
            ?? (config is null ? find(LladaTokens.StartOfText)
                : config.BosToken is { } b ? Named(b, $"{config.Path}: \"bos_token\"") : null);

        int mask = options.MaskId
            ?? (options.MaskToken is { } mt ? Named(mt, "the mask-token option") : null)
            ?? (config?.MaskToken is { } m ? Named(m, $"{config.Path}: \"mask_token\"") : null)
            ?? options.ModelMaskId
            ?? KnownMasks.Select(find).FirstOrDefault(id => id is not null)
            ?? throw new InvalidDataException(
                $"{tokenizerPath}: no mask token ({string.Join(", ", KnownMasks)}) and none named by tokenizer_config.json "
                + "(mask_token) or config.json (mask_token_id); give the mask id explicitly");

        int? eot = options.EndOfTurnToken is { } ot ? Named(ot, "the end-of-turn option")
            : KnownEndOfTurn.Where(t => chatTemplate?.Contains(t, StringComparison.Ordinal) == true).Select(find).FirstOrDefault(id => id is not null)
              ?? (config?.EosToken is { } ce && KnownEndOfTurn.Contains(ce) ? find(ce) : null)
              ?? find(LladaTokens.EndOfTurn);

        return new SpecialTokenIds(bos, eos, mask, eot);
    }
}
