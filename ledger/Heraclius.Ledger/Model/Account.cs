namespace Heraclius.Ledger.Model;

/// <summary>
/// An account and its balances, in minor units. A client creates one by giving id, ledger, code,
/// owner and flags; balances and timestamp are the ledger's (zero in a create request).
/// </summary>
public readonly record struct Account(
    UInt128 Id,
    uint Ledger,
    ushort Code,
    UInt128 Owner,
    AccountFlags Flags,
    ulong DebitsPending,
    ulong DebitsPosted,
    ulong CreditsPending,
    ulong CreditsPosted,
    ulong Timestamp)
{
    /// <summary>What a client sends to open an account.</summary>
    public static Account Create(UInt128 id, uint ledger, ushort code, UInt128 owner, AccountFlags flags) =>
        new(id, ledger, code, owner, flags, 0, 0, 0, 0, 0);

    public bool IsIssuance => (Flags & AccountFlags.Issuance) != 0;

    public bool IsClosed => (Flags & AccountFlags.Closed) != 0;
}
