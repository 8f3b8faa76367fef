namespace Heraclius.KvStore.Consensus;

/// <summary>Why an inbound message was dropped. Counted per reason; byzantine evidence is logged at a rate limit.</summary>
public enum RejectReason
{
    Malformed,
    NonMember,
    BadSignature,
    WrongSender,
    OldView,
    WrongHeight,
    Equivocation,
    InvalidProposal,
    WrongOutputs,
    InvalidCertificate,
    InvalidViewChange,
    InvalidNewView,
    InvalidDecision,
    InvalidSnapshot,
    Duplicate,

    /// <summary>A compact decision of another cluster that fails its checks (source, destination, QC, proof, chain).</summary>
    InvalidInbound,
}
