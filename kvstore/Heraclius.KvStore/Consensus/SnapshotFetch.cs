using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Consensus;

/// <summary>A snapshot being assembled chunk by chunk, each chunk checked against the certified state root.</summary>
internal sealed class SnapshotFetch
{
    public SnapshotFetch(ulong height, int peer, int bucketCount)
    {
        Height = height;
        Peer = peer;
        State = new ReplicatedState(bucketCount);
        Have = new bool[bucketCount];
        LeafHashes = new Hash32[bucketCount];
    }

    /// <summary>
    /// A fetch of a later checkpoint that keeps the chunks of <paramref name="earlier"/> whose leaf hashes the later
    /// checkpoint still has (<paramref name="leafHashes"/>, already checked against its certified root): a bucket
    /// no write touched in between is the same chunk, so only the changed ones are fetched again. It takes over the
    /// earlier fetch's state; buckets not kept are overwritten when their chunk arrives, and none is installed before.
    /// </summary>
    public SnapshotFetch(ulong height, int peer, SnapshotFetch earlier, Hash32[] leafHashes)
    {
        Height = height;
        Peer = peer;
        State = earlier.State;
        Have = new bool[earlier.Have.Length];
        LeafHashes = earlier.LeafHashes;
        for (var i = 0; i < Have.Length; i++)
        {
            if (earlier.Have[i] && earlier.LeafHashes[i] == leafHashes[i])
            {
                Have[i] = true;
                Received++;
            }
        }

        Outstanding = earlier.Outstanding;
    }

    public ulong Height { get; }

    public int Peer { get; set; }

    /// <summary>The decided header of the fetched state's height, and its QC (checked with the certifier's, as a pair).</summary>
    public DecisionHeader? At { get; set; }

    public QuorumCertificate? AtQc { get; set; }

    /// <summary>The header an interval above, whose stateRoot the chunks are proven against, and its QC.</summary>
    public DecisionHeader? Certifier { get; set; }

    public QuorumCertificate? CertifierQc { get; set; }

    public ReplicatedState State { get; }

    public bool[] Have { get; }

    /// <summary>The leaf hash of each chunk received (valid where <see cref="Have"/> is set).</summary>
    public Hash32[] LeafHashes { get; }

    public int Received { get; set; }

    /// <summary>
    /// When a chunk last arrived that the fetch lacked (or the fetch began, or moved to another peer): with no new
    /// chunk for a while the timer asks the next peer.
    /// </summary>
    public long ProgressAt { get; set; }

    /// <summary>Whether an answer of the current round brought a chunk the fetch lacked.</summary>
    public bool RoundProgress { get; set; }

    /// <summary>Chunk requests sent in the last round and not yet answered; the next round goes out when none is left.</summary>
    public int Outstanding { get; set; }

    /// <summary>Peers left in a row without a single new chunk arriving from them; a full round abandons the fetch.</summary>
    public int FruitlessRequests { get; set; }

    public int NextMissing() => Array.IndexOf(Have, false);
}
