using Dllm.Training;

namespace Dllm.Tests.Training;

public class SftBatchSamplerTests
{
    [Fact]
    public void EachBatchComesFromOneLengthBucketAndEveryBucketIsUsed()
    {
        // 100 examples, lengths shuffled so that file order says nothing about length.
        int[] lengths = Enumerable.Range(1, 100).OrderBy(i => (i * 37) % 101).ToArray();
        var sampler = new SftBatchSampler(lengths, 4);
        var rng = new Random(3);
        var seen = new HashSet<int>();
        for (int step = 0; step < 200; step++)
        {
            int[] picked = sampler.Next(8, rng);
            Assert.Equal(8, picked.Length);
            int bucket = (lengths[picked[0]] - 1) / 25;   // lengths 1–25, 26–50, 51–75, 76–100
            Assert.All(picked, i => Assert.Equal(bucket, (lengths[i] - 1) / 25));
            seen.Add(bucket);
        }
        Assert.Equal(4, seen.Count);
    }

    [Fact]
    public void OneBucketDrawsFromTheWholeSetInFileOrder()
    {
        int[] lengths = Enumerable.Range(1, 100).Reverse().ToArray();
        var sampler = new SftBatchSampler(lengths, 1);
        var rng = new Random(5); var expected = new Random(5);
        int[] picked = sampler.Next(500, rng);
        // Same draws as indexing the examples directly (the behaviour before buckets existed).
        Assert.All(picked, i => Assert.Equal(expected.Next(100), i));
        Assert.True(picked.Max(i => lengths[i]) - picked.Min(i => lengths[i]) > 90);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(11)]
    public void BucketCountOutOfRangeNamesTheFlag(int buckets)
    {
        var e = Assert.Throws<ArgumentException>(() => new SftBatchSampler(Enumerable.Range(1, 10).ToArray(), buckets));
        Assert.Contains("--length-buckets", e.Message);
    }
}
