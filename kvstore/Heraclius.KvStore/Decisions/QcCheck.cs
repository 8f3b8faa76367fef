namespace Heraclius.KvStore.Decisions;

/// <summary>Why a quorum certificate was refused; <see cref="Valid"/> when it was not.</summary>
public enum QcCheck
{
    Valid,
    TooFewSignatures,
    DuplicateSigner,
    NonMember,
    BadSignature,
    WrongCluster,
}
