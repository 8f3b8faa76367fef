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
    }

    public ulong Height { get; }

    public int Peer { get; set; }

    public DecisionHeader? Header { get; set; }

    public QuorumCertificate? Qc { get; set; }

    public ReplicatedState State { get; }

    public bool[] Have { get; }

    public int Received { get; set; }

    public long RequestedAt { get; set; }

    /// <summary>Peers asked in a row without a single chunk arriving; a full round abandons the fetch.</summary>
    public int FruitlessRequests { get; set; }

    public int NextMissing() => Array.IndexOf(Have, false);
}
