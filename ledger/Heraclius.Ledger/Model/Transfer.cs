namespace Heraclius.Ledger.Model;

/// <summary>
/// A transfer: <see cref="Amount"/> from <see cref="DebitAccountId"/> to <see cref="CreditAccountId"/>.
/// The id is the idempotency key. <see cref="Timeout"/> (seconds, pending only; 0 = never) and
/// <see cref="PendingId"/> (post/void only) follow TigerBeetle. Timestamp is the ledger's (zero in a request).
/// </summary>
public readonly record struct Transfer(
    UInt128 Id,
    UInt128 DebitAccountId,
    UInt128 CreditAccountId,
    ulong Amount,
    UInt128 PendingId,
    UInt128 UserData,
    uint Timeout,
    uint Ledger,
    ushort Code,
    TransferFlags Flags,
    ulong Timestamp)
{
    /// <summary>The largest amount a transfer may carry: 2^63 − 1 minor units.</summary>
    public const ulong MaxAmount = long.MaxValue;

    public bool IsLinked => (Flags & TransferFlags.Linked) != 0;

    public bool IsPending => (Flags & TransferFlags.Pending) != 0;

    public bool IsPost => (Flags & TransferFlags.PostPending) != 0;

    public bool IsVoid => (Flags & TransferFlags.VoidPending) != 0;
}
