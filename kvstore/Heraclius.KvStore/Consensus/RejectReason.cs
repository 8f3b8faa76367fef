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

    /// <summary>
    /// A suspicion that fails its checks: a status whose suspicion signature is not the sender's for that view, or a
    /// VIEW-CHANGE whose suspicion proof is of another view, too small, repeats or misplaces a member, or holds a bad signature.
    /// </summary>
    InvalidSuspicion,

    /// <summary>
    /// A VIEW-CHANGE whose equivocation evidence proves nothing: not of the view below the VIEW-CHANGE's, one header
    /// twice or out of order, or a signature that is not that view's leader's prepare of the header and height.
    /// </summary>
    InvalidEquivocation,

    /// <summary>
    /// A leader's inputs sent ahead of its pre-prepare that fail the checks a proposal's inputs must pass (timestamp,
    /// client signatures, inbound groups), or that are not the leader's: nothing is executed, and nothing else follows,
    /// since the message binds no one (the pre-prepare alone is voted on).
    /// </summary>
    InvalidInputsAhead,
}
