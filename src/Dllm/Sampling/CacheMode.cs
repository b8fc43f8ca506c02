namespace Dllm.Sampling;

/// <summary>
/// Fast-dLLM's block-wise approximate KV cache (Wu et al. 2025, arXiv 2505.22618, §3.2), as requested
/// from an <see cref="Dllm.Model.ICachingDenoisingModel"/>. The sampler calls Refresh (a full forward that
/// stores K/V) at the first step of every block and, with a refresh interval N &gt; 0, whenever N steps
/// have passed since the last refresh; the other steps call LogitsInWindow.
/// </summary>
public enum CacheMode
{
    /// <summary>Every step is a full forward (IDenoisingModel.Logits).</summary>
    None,
    /// <summary>Window [block start, canvas end): the prefix's K/V come from the cache.</summary>
    Prefix,
    /// <summary>Window [block start, block end): prefix and suffix K/V both come from the cache.</summary>
    Dual,
}
