namespace Heraclius.Ledger.Model;

/// <summary>Which side of a transfer an account is on (u8 on the wire).</summary>
public enum TransferSide : byte
{
    Debit = 1,
    Credit = 2,
}
