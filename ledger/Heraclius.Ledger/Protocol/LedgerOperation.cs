namespace Heraclius.Ledger.Protocol;

/// <summary>The first byte of a client request and of its answer.</summary>
public enum LedgerOperation : byte
{
    CreateAccount = 1,
    CreateTransfers = 2,
    LookupAccount = 3,
    LookupTransfer = 4,
    AccountHistory = 5,
    CloseAccount = 6,

    /// <summary>Answer only: the request bytes did not parse; a utf-8 reason follows.</summary>
    Malformed = 0xFF,
}
