namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>The first byte of every consensus message.</summary>
public enum MessageType : byte
{
    PrePrepare = 1,
    Prepare = 2,
    Commit = 3,
    ViewChange = 4,
    NewView = 5,
    FetchDecisions = 6,
    DecisionBatch = 7,
    FetchSnapshot = 8,
    SnapshotChunks = 9,
    ForwardBatch = 10,
    Status = 11,
    ForwardInbound = 12,

    /// <summary>A leader's inputs for the next height, sent before it executes them (see <see cref="InputsAheadMessage"/>).</summary>
    InputsAhead = 13,
}
