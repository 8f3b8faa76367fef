namespace Heraclius.Ledger.Model;

/// <summary>Account flags (u16 on the wire). The two limits are mutually exclusive.</summary>
[Flags]
public enum AccountFlags : ushort
{
    None = 0,

    /// <summary>debitsPosted + debitsPending + amount ≤ creditsPosted for every debit: the balance cannot go below zero.</summary>
    DebitsMustNotExceedCredits = 1,

    /// <summary>creditsPosted + creditsPending + amount ≤ debitsPosted for every credit.</summary>
    CreditsMustNotExceedDebits = 2,

    /// <summary>History entries carry the account's balances after each movement.</summary>
    History = 4,

    /// <summary>Set by CloseAccount only; a closed account takes no new transfers.</summary>
    Closed = 8,

    /// <summary>The ledger's issuance account: may go negative; its id equals its ledger number.</summary>
    Issuance = 16,
}
