using System.Collections.Concurrent;
using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Routing;

/// <summary>
/// Digests of inbound compact decisions whose QC and Merkle proof a node already checked (its subscriptions on
/// their threads, or its replica in a proposal or a peer's forward), so that the same group is not verified again.
/// Thread-safe: every subscription of the node offers on its own thread, and the replica reads it on its own.
/// </summary>
/// <remarks>
/// A replica subscribes to at least f+1 source nodes, which serve each group at about the same moment;
/// the second copy usually reaches the host before the replica has pooled the first (which would make it
/// stale), so both were verified, three signature checks each: the host's checks were 6% of all CPU in
/// `bench transfers` at 256 users. The replica shares the host's cache (see <c>Replica.ShareVerifiedGroups</c>): a
/// follower often sees a group first in the leader's proposal, and its own subscription's copy arrives after.
/// A digest is SHA-256 over the group's exact bytes (header, QC, group and proof), so a hit is the
/// identical message and has the identical verdict. Only valid groups are remembered. Bounded: past
/// <see cref="Capacity"/> entries it starts over, which costs at most one more check per group.
/// </remarks>
internal sealed class VerifiedGroupCache
{
    public const int Capacity = 4096;

    private readonly ConcurrentDictionary<Hash32, bool> _verified = new();
    private int _count;

    public bool Contains(Hash32 digest) => _verified.ContainsKey(digest);

    public void Add(Hash32 digest)
    {
        if (!_verified.TryAdd(digest, true))
        {
            return;
        }

        if (Interlocked.Increment(ref _count) > Capacity)
        {
            // Groups older than the last few thousand have long been pooled or decided, and a late copy of
            // one is stale at the host before it is verified; a racing Add lost here only costs a check.
            _verified.Clear();
            Interlocked.Exchange(ref _count, 0);
        }
    }
}
