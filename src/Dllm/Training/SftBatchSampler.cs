namespace Dllm.Training;

/// <summary>
/// Picks the examples of each SFT batch. With one bucket (the default) every example is drawn
/// uniformly from the whole set. With N buckets the examples are sorted by length (prompt + answer)
/// and cut into N buckets of (nearly) equal count; each batch picks one bucket uniformly, then its
/// examples uniformly from that bucket.
/// <para>Why: SFT pads every answer with EOS to the batch's longest example (LLaDA Eq. 5), and the
/// padding is trained on like answer tokens with weight 1/answer_length. In a mixed batch one
/// 80-token verse makes a 2-token arithmetic answer ~60 tokens long, so its one real token gets ~1/60
/// of that sequence's loss and the step costs the verse's length for every row. Length buckets keep
/// padding short and steps cheap; every example still has the same chance of being drawn when the
/// buckets are equal in size.</para>
/// </summary>
public sealed class SftBatchSampler
{
    private readonly int[][] _buckets;   // example indices, each bucket sorted by length

    /// <param name="lengths">Length (prompt + answer tokens) of every example.</param>
    /// <param name="buckets">Number of length buckets, 1 ≤ buckets ≤ number of examples.</param>
    /// <exception cref="ArgumentException">No examples, or a bucket count out of range (names the flag).</exception>
    public SftBatchSampler(IReadOnlyList<int> lengths, int buckets)
    {
        if (lengths.Count == 0) throw new ArgumentException("the SFT data has no examples");
        if (buckets < 1 || buckets > lengths.Count)
            throw new ArgumentException($"--length-buckets must lie in [1, {lengths.Count}] (the number of examples), got {buckets}");
        // Stable sort by length (ties keep file order) so the buckets do not depend on the run; one
        // bucket keeps file order, so the default draws the same batches as before buckets existed.
        int[] order = Enumerable.Range(0, lengths.Count).ToArray();
        if (buckets > 1) order = order.OrderBy(i => lengths[i]).ThenBy(i => i).ToArray();
        _buckets = new int[buckets][];
        for (int k = 0; k < buckets; k++)
        {
            int from = (int)((long)order.Length * k / buckets), to = (int)((long)order.Length * (k + 1) / buckets);
            _buckets[k] = order[from..to];
        }
    }

    public int BucketCount => _buckets.Length;

    /// <summary>The indices of <paramref name="batchSize"/> examples, drawn with replacement from one bucket.</summary>
    public int[] Next(int batchSize, Random rng)
    {
        int[] bucket = _buckets.Length == 1 ? _buckets[0] : _buckets[rng.Next(_buckets.Length)];
        var picked = new int[batchSize];
        for (int i = 0; i < batchSize; i++) picked[i] = bucket[rng.Next(bucket.Length)];
        return picked;
    }
}
