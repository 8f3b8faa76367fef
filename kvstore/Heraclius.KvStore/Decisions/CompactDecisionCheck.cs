namespace Heraclius.KvStore.Decisions;

/// <summary>Why a compact decision was refused; <see cref="Valid"/> when it was not.</summary>
public enum CompactDecisionCheck
{
    Valid,
    UnknownCluster,
    BadQuorumCertificate,
    BadProof,
    WrongDestination,
}
