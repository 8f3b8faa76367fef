namespace Heraclius.Ledger.Model;

/// <summary>Transfer flags (u16 on the wire). At most one of Pending, PostPending, VoidPending.</summary>
[Flags]
public enum TransferFlags : ushort
{
    None = 0,

    /// <summary>This leg and the next succeed or fail together; the last leg of a chain has it clear.</summary>
    Linked = 1,

    /// <summary>A hold: the amount goes to debitsPending/creditsPending until posted, voided or expired.</summary>
    Pending = 2,

    /// <summary>Posts the pending transfer <see cref="Transfer.PendingId"/> (amount 0 = all of it).</summary>
    PostPending = 4,

    /// <summary>Voids the pending transfer <see cref="Transfer.PendingId"/>.</summary>
    VoidPending = 8,
}
