namespace Dllm.Text;

/// <summary>
/// Overrides for the special ids a tokenizer would otherwise take from its files (see
/// <see cref="TokenizerLoader.Load(string, TokenizerOptions?)"/> for the lookup order). All optional.
/// </summary>
public sealed record TokenizerOptions
{
    /// <summary>The mask id, for releases whose files do not name the mask (or name another one).</summary>
    public int? MaskId { get; init; }

    /// <summary>The mask token by name (e.g. <c>&lt;|mask|&gt;</c>); ignored when <see cref="MaskId"/> is set.</summary>
    public string? MaskToken { get; init; }

    /// <summary>The end-of-sequence id.</summary>
    public int? EosId { get; init; }

    /// <summary>The beginning-of-sequence id.</summary>
    public int? BosId { get; init; }

    /// <summary>The end-of-turn token by name (e.g. <c>&lt;|im_end|&gt;</c>), which ends an answer as EOS does.</summary>
    public string? EndOfTurnToken { get; init; }

    /// <summary>The model's mask id from its config.json (<c>mask_token_id</c>), used when neither the options
    /// nor tokenizer_config.json name a mask. Set by <see cref="TokenizerLoader"/>.</summary>
    public int? ModelMaskId { get; init; }
}
