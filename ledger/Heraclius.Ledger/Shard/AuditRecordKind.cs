namespace Heraclius.Ledger.Shard;

/// <summary>The first byte of an audit record (docs/design.md "Audit records").</summary>
public enum AuditRecordKind : byte
{
    AccountCreated = 1,
    AccountClosed = 2,
    Posting = 3,
    TransferResult = 4,
}
