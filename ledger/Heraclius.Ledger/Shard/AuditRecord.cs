using System.Buffers.Binary;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Shard;

/// <summary>
/// One record of a shard decision's audit group: u8 kind ‖ body, fixed size per kind (ids 16 bytes LE,
/// account and transfer as in <see cref="Protocol.LedgerCodec"/>):
/// <c>1 AccountCreated</c> ‖ account (81 bytes); <c>2 AccountClosed</c> ‖ id ‖ u64 timestamp (25);
/// <c>3 Posting</c> ‖ transferId ‖ accountId ‖ u8 side ‖ u8 movement ‖ u64 amount ‖ u64 debitsPending ‖
/// u64 debitsPosted ‖ u64 creditsPending ‖ u64 creditsPosted ‖ u64 timestamp (83);
/// <c>4 TransferResult</c> ‖ transfer ‖ u16 result (111). Only the fields of its kind are set.
/// </summary>
public readonly record struct AuditRecord(
    AuditRecordKind Kind,
    Account Account = default,
    UInt128 AccountId = default,
    ulong Timestamp = 0,
    AuditPosting Posting = default,
    Transfer Transfer = default,
    CreateTransferResult Result = CreateTransferResult.Ok)
{
    public const int AccountCreatedSize = 1 + ShardCodec.AccountSize;
    public const int AccountClosedSize = 1 + 16 + 8;
    public const int PostingSize = 1 + 16 + 16 + 1 + 1 + (6 * 8);
    public const int TransferResultSize = 1 + ShardCodec.TransferSize + 2;

    public static byte[] EncodeAccountCreated(in Account account)
    {
        var b = new byte[AccountCreatedSize];
        b[0] = (byte)AuditRecordKind.AccountCreated;
        ShardCodec.WriteAccount(b.AsSpan(1), account);
        return b;
    }

    public static byte[] EncodeAccountClosed(UInt128 accountId, ulong timestamp)
    {
        var b = new byte[AccountClosedSize];
        b[0] = (byte)AuditRecordKind.AccountClosed;
        ShardCodec.WriteId(b.AsSpan(1), accountId);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(17), timestamp);
        return b;
    }

    public static byte[] EncodePosting(in AuditPosting p)
    {
        var b = new byte[PostingSize];
        WritePosting(b, p);
        return b;
    }

    /// <summary><see cref="EncodePosting"/>'s bytes into the first <see cref="PostingSize"/> bytes of <paramref name="s"/>.</summary>
    public static void WritePosting(Span<byte> s, in AuditPosting p)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(s.Length, PostingSize);
        s[0] = (byte)AuditRecordKind.Posting;
        ShardCodec.WriteId(s[1..], p.TransferId);
        ShardCodec.WriteId(s[17..], p.AccountId);
        s[33] = (byte)p.Side;
        s[34] = (byte)p.Movement;
        BinaryPrimitives.WriteUInt64LittleEndian(s[35..], p.Amount);
        BinaryPrimitives.WriteUInt64LittleEndian(s[43..], p.DebitsPending);
        BinaryPrimitives.WriteUInt64LittleEndian(s[51..], p.DebitsPosted);
        BinaryPrimitives.WriteUInt64LittleEndian(s[59..], p.CreditsPending);
        BinaryPrimitives.WriteUInt64LittleEndian(s[67..], p.CreditsPosted);
        BinaryPrimitives.WriteUInt64LittleEndian(s[75..], p.Timestamp);
    }

    public static byte[] EncodeTransferResult(in Transfer transfer, CreateTransferResult result)
    {
        var b = new byte[TransferResultSize];
        WriteTransferResult(b, transfer, result);
        return b;
    }

    /// <summary><see cref="EncodeTransferResult"/>'s bytes into the first <see cref="TransferResultSize"/> bytes of <paramref name="b"/>.</summary>
    public static void WriteTransferResult(Span<byte> b, in Transfer transfer, CreateTransferResult result)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(b.Length, TransferResultSize);
        b[0] = (byte)AuditRecordKind.TransferResult;
        ShardCodec.WriteTransfer(b[1..], transfer);
        BinaryPrimitives.WriteUInt16LittleEndian(b[(1 + ShardCodec.TransferSize)..], (ushort)result);
    }

    public byte[] Encode() => Kind switch
    {
        AuditRecordKind.AccountCreated => EncodeAccountCreated(Account),
        AuditRecordKind.AccountClosed => EncodeAccountClosed(AccountId, Timestamp),
        AuditRecordKind.Posting => EncodePosting(Posting),
        AuditRecordKind.TransferResult => EncodeTransferResult(Transfer, Result),
        _ => throw new InvalidOperationException($"unknown audit record kind {Kind}"),
    };

    /// <summary>Parses one record; false for an unknown kind, a wrong length, or an unknown side or movement.</summary>
    public static bool TryParse(ReadOnlySpan<byte> b, out AuditRecord record)
    {
        record = default;
        if (b.IsEmpty)
        {
            return false;
        }

        switch ((AuditRecordKind)b[0])
        {
            case AuditRecordKind.AccountCreated when b.Length == AccountCreatedSize:
                record = new AuditRecord(AuditRecordKind.AccountCreated, Account: ShardCodec.ReadAccount(b[1..]));
                return true;
            case AuditRecordKind.AccountClosed when b.Length == AccountClosedSize:
                record = new AuditRecord(AuditRecordKind.AccountClosed, AccountId: ShardCodec.ReadId(b[1..]), Timestamp: BinaryPrimitives.ReadUInt64LittleEndian(b[17..]));
                return true;
            case AuditRecordKind.Posting when b.Length == PostingSize:
                var side = (TransferSide)b[33];
                var movement = (TransferMovement)b[34];
                if (side is not (TransferSide.Debit or TransferSide.Credit) || movement is < TransferMovement.Posted or > TransferMovement.Released)
                {
                    return false;
                }

                var posting = new AuditPosting(
                    ShardCodec.ReadId(b[1..]),
                    ShardCodec.ReadId(b[17..]),
                    side,
                    movement,
                    BinaryPrimitives.ReadUInt64LittleEndian(b[35..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(b[43..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(b[51..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(b[59..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(b[67..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(b[75..]));
                record = new AuditRecord(AuditRecordKind.Posting, Posting: posting);
                return true;
            case AuditRecordKind.TransferResult when b.Length == TransferResultSize:
                record = new AuditRecord(
                    AuditRecordKind.TransferResult,
                    Transfer: ShardCodec.ReadTransfer(b[1..]),
                    Result: (CreateTransferResult)BinaryPrimitives.ReadUInt16LittleEndian(b[(1 + ShardCodec.TransferSize)..]));
                return true;
            default:
                return false;
        }
    }
}
