using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Merkle;
using Heraclius.KvStore.Tests.Simulation;
using static Heraclius.KvStore.Tests.Decisions.CertifiedDecisionFactory;

namespace Heraclius.KvStore.Tests.Decisions;

/// <summary>
/// A follower compares its re-execution's outputs with the proposal's instead of hashing them again, and the
/// leader hands its leaf hashes to the proposal: both must agree with the outputs root exactly.
/// </summary>
public sealed class ProposalOutputsTests
{
    private static readonly TestTopology T = new(4, 1);

    [Fact]
    public void HasOutputs_HoldsForEqualBytes_AndFailsOnEveryField()
    {
        var p = Proposal(T, groups: 3);
        var same = p.Outputs.Select(g => g with { Payload = g.Payload.ToArray() }).ToArray();
        Assert.True(p.HasOutputs(same));

        var g1 = p.Outputs[1];
        var flipped = g1.Payload.ToArray();
        flipped[^1] ^= 1;
        OutputGroup[] variants =
        [
            g1 with { Destination = g1.Destination + "x" },
            g1 with { PrevHeight = g1.PrevHeight + 1 },
            g1 with { AckHeight = g1.AckHeight + 1 },
            g1 with { Payload = flipped },
            g1 with { Payload = g1.Payload[..^1] },
        ];
        foreach (var variant in variants)
        {
            var outputs = same.ToArray();
            outputs[1] = variant;
            Assert.False(p.HasOutputs(outputs));
            Assert.NotEqual(p.Header.OutputsRoot, global::Heraclius.KvStore.Decisions.Proposal.OutputsRoot(outputs));
        }

        Assert.False(p.HasOutputs(same[..2]));
        Assert.False(p.HasOutputs([.. same, g1 with { Destination = "zz" }]));
    }

    [Fact]
    public void GivenLeafHashes_ProveLikeComputedOnes_AndMustBeOnePerGroup()
    {
        var p = Proposal(T, groups: 5);
        var leaves = global::Heraclius.KvStore.Decisions.Proposal.LeafHashesOf(p.Outputs);
        Assert.Equal(p.Header.OutputsRoot, MerkleTree.Root(leaves));
        var given = new Proposal(p.Header, p.Inputs, p.Outputs, leaves);
        var qc = Qc(T, p.Header);
        for (var i = 0; i < p.Outputs.Count; i++)
        {
            Assert.Equal(p.Compact(qc, i).ToBytes(), given.Compact(qc, i).ToBytes());
        }

        Assert.True(given.IsSelfConsistent());
        Assert.Throws<ArgumentException>(() => new Proposal(p.Header, p.Inputs, p.Outputs, leaves[..4]));
    }
}
