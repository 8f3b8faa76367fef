using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;

namespace Heraclius.KvStore.Consensus;

/// <summary>The latest certified state a replica can serve to a lagging peer: header, QC and the state's chunks as of that height.</summary>
internal sealed record Checkpoint(DecisionHeader Header, QuorumCertificate Qc, byte[][] Chunks, Hash32[] ChunkHashes);
