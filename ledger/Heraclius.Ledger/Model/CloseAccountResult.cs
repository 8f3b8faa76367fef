namespace Heraclius.Ledger.Model;

/// <summary>The result of closing an account (u16 on the wire; stable).</summary>
public enum CloseAccountResult : ushort
{
    Ok = 0,
    AccountNotFound = 1,

    /// <summary>Pending debits or credits (holds or 2PC reservations) are not zero.</summary>
    AccountHasPending = 2,

    AlreadyClosed = 3,
}
