namespace Heraclius.Ledger.Model;

/// <summary>The result of creating one account (u16 on the wire; stable; numeric order is precedence).</summary>
public enum CreateAccountResult : ushort
{
    Ok = 0,

    /// <summary>A flag bit outside <see cref="AccountFlags"/>, or <see cref="AccountFlags.Closed"/> in a create.</summary>
    ReservedFlag = 1,

    /// <summary>A create request with non-zero balances or timestamp.</summary>
    BalancesMustBeZero = 2,

    IdMustNotBeZero = 3,
    IdMustNotBeIntMax = 4,

    /// <summary>Both limit flags.</summary>
    FlagsAreMutuallyExclusive = 5,

    LedgerMustNotBeZero = 6,
    CodeMustNotBeZero = 7,

    /// <summary>An issuance account's id must equal its ledger number.</summary>
    IssuanceIdMustEqualLedger = 8,

    /// <summary>An issuance account may not carry a limit flag.</summary>
    IssuanceMustNotHaveLimits = 9,

    ExistsWithDifferentFlags = 10,
    ExistsWithDifferentOwner = 11,
    ExistsWithDifferentLedger = 12,
    ExistsWithDifferentCode = 13,

    /// <summary>An account with this id and equal fields exists (TigerBeetle's answer to a repeat).</summary>
    Exists = 14,
}
