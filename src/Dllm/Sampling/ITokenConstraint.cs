namespace Dllm.Sampling;

/// <summary>
/// Which tokens may be written at a position of a canvas, given what the canvas holds now: the sampler
/// consults it before choosing a token (disallowed logits become −∞, so sampling, the ordering's score and
/// the commit policy see only allowed tokens) and again when it commits (several positions commit in one
/// step, each chosen against the canvas before the step; a token that the commits before it in the step
/// made invalid is replaced by the best token allowed now). The sampler knows nothing of what the
/// constraint encodes (a JSON schema, a grammar); the constraint knows nothing of how the model computes.
/// </summary>
/// <remarks>
/// Contract: for every masked position the sampler may write, at least one token must be allowed whatever
/// the canvas holds, as long as every committed token was allowed when it was committed; an implementation
/// whose language is closed under any commit order (<c>Dllm.Chat.Structured</c>) guarantees that the
/// finished canvas is in the language. Positions are canvas coordinates (prompt included).
/// Implementations must be safe to call from the batch's thread while other requests use other instances.
/// </remarks>
public interface ITokenConstraint
{
    /// <summary>Sets the logits of the tokens not allowed at <paramref name="position"/> to −∞.</summary>
    /// <exception cref="InvalidOperationException">No token is allowed (a broken constraint).</exception>
    void Restrict(int position, ReadOnlySpan<int> canvas, Span<float> logits);

    /// <summary>Whether <paramref name="token"/> may be written at <paramref name="position"/> now.</summary>
    bool Allows(int position, int token, ReadOnlySpan<int> canvas);
}
