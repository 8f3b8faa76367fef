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

    private readonly TimeSpan _waitBound;

    private readonly ConcurrentDictionary<Hash32, Claim> _entries = new();
    private int _count;

    /// <param name="waitBound">
    /// How long a second checker waits for the first one's verdict before checking itself (default 50 ms: a check takes
    /// well under a millisecond, and the bound only keeps a stalled thread from stalling the others).
    /// </param>
    public VerifiedGroupCache(TimeSpan? waitBound = null) => _waitBound = waitBound ?? TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// The commit signatures this node found valid in inbound QCs. Copies of one group from different source nodes carry
    /// different QCs (each source node assembles its own from the first 2f+1 commits it received), but any two of them
    /// share at least f+1 signatures: checked once here, those are not checked again. One per node, like this cache:
    /// never shared between nodes hosted in one process, so each node still checks every signature itself.
    /// </summary>
    public VerifiedSignatureCache Signatures { get; } = new();

    public bool Contains(Hash32 digest) => _entries.TryGetValue(digest, out var claim) && claim.State == Claim.Valid;

    /// <summary>
    /// The verdict of <paramref name="check"/> on the group with <paramref name="digest"/>, run once however many threads
    /// ask at the same moment: the first runs it, the others wait for its verdict (the same bytes get the same one).
    /// Several subscriptions of a node deliver each group at about the same moment, and each checked it: in `bench get`
    /// 1.45 checks per group per coordinator node before, 1.29 after (the rest are copies from other source nodes, whose
    /// QCs hold other signatures and so are other bytes). Only valid verdicts are kept.
    /// </summary>
    public bool Verify(Hash32 digest, Func<bool> check)
    {
        var mine = new Claim();
        var claim = _entries.GetOrAdd(digest, mine);
        if (!ReferenceEquals(claim, mine))
        {
            switch (claim.Await(_waitBound))
            {
                case Claim.Valid:
                    return true;
                case Claim.Invalid:
                    return false;
                default:
                    // The first checker stalled: check here rather than wait on.
                    return check();
            }
        }

        var valid = false;
        try
        {
            valid = check();
        }
        finally
        {
            mine.Settle(valid);
            if (valid)
            {
                Counted();
            }
            else
            {
                _entries.TryRemove(new KeyValuePair<Hash32, Claim>(digest, mine));
            }
        }

        return valid;
    }

    private void Counted()
    {
        if (Interlocked.Increment(ref _count) > Capacity)
        {
            // Groups older than the last few thousand have long been pooled or decided, and a late copy of
            // one is stale at the host before it is verified; a verdict kept by a racing check is lost here, which only costs a check.
            _entries.Clear();
            Interlocked.Exchange(ref _count, 0);
        }
    }

    /// <summary>One digest's check: pending until its first checker settles it.</summary>
    private sealed class Claim
    {
        public const int Pending = 0;
        public const int Valid = 1;
        public const int Invalid = 2;

        private int _state;

        public int State
        {
            get => Volatile.Read(ref _state);
        }

        public void Settle(bool valid)
        {
            lock (this)
            {
                _state = valid ? Valid : Invalid;
                Monitor.PulseAll(this);
            }
        }

        /// <summary>The verdict, waiting at most <paramref name="bound"/> for it; <see cref="Pending"/> when none came.</summary>
        public int Await(TimeSpan bound)
        {
            if (State != Pending)
            {
                return State;
            }

            lock (this)
            {
                if (_state == Pending)
                {
                    Monitor.Wait(this, bound);
                }

                return _state;
            }
        }
    }
}
