using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Tests.Consensus;

public sealed class VoteSetTests
{
    private static readonly Hash32 X = Hash32.Of([1]);
    private static readonly Hash32 Y = Hash32.Of([2]);

    [Fact]
    public void Quorums_ListsEachViewAndHashWithAQuorumOnce_LowestViewFirst()
    {
        var votes = new VoteSet();
        Assert.Null(votes.Quorums(3));

        // View 7: three for X (signers added out of order), one for Y.
        foreach (var (signer, hash) in new[] { (3, X), (0, Y), (1, X), (2, X) })
        {
            votes.Add(7, signer, hash, [], out _);
        }

        // View 5: two for Y only.
        votes.Add(5, 0, Y, [], out _);
        votes.Add(5, 1, Y, [], out _);
        Assert.Equal([(7UL, X)], votes.Quorums(3));

        votes.Add(5, 2, Y, [], out _);
        Assert.Equal([(5UL, Y), (7UL, X)], votes.Quorums(3));
        Assert.Equal([(5UL, Y), (7UL, X)], votes.Quorums(2));
        Assert.Null(votes.Quorums(4));
    }

    [Fact]
    public void Quorums_CountsEveryHashOfAViewSeparately()
    {
        var votes = new VoteSet();
        votes.Add(1, 0, X, [], out _);
        votes.Add(1, 1, Y, [], out _);
        votes.Add(1, 2, X, [], out _);
        votes.Add(1, 3, Y, [], out _);
        Assert.Equal([(1UL, X), (1UL, Y)], votes.Quorums(2));
        Assert.Null(votes.Quorums(3));
    }
}
