using System.Buffers.Binary;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;

namespace Heraclius.Ledger.Shard;

/// <summary>
/// A two-phase transaction as this shard saw it: u8 status ‖ u64 owned legs ‖ u64 debit sides ‖
/// u64 credit sides (bit i = leg i) ‖ vote (bool prepared ‖ i32 failed leg ‖ u16 code ‖ u32 n ‖
/// (u32, u32)*) ‖ u32 n ‖ transfer*. Owned legs are those whose ids this transaction holds in flight;
/// a side bit is set where this shard reserved (or, for post/void, locked) that leg's side. Deleted
/// once the txn commits or aborts here (the watermark under <see cref="StateKeys.PreparedUpTo"/> keeps a
/// repeated Prepare of it from running again).
/// </summary>
internal record struct TxnRecord
{
    // Byte offsets of the fixed part; TxnRecordView reads the stored bytes by them.
    internal const int OwnedAt = 1;
    internal const int DebitSidesAt = 9;
    internal const int CreditSidesAt = 17;
    internal const int VoteAt = 25;
    internal const int LedgerCountAt = 32;
    internal const int LedgersAt = 36;

    public TxnStatus Status { get; set; }

    public ulong Owned { get; init; }

    public ulong DebitSides { get; init; }

    public ulong CreditSides { get; init; }

    public required ShardVote Vote { get; init; }

    public required Transfer[] Chain { get; set; }

    public byte[] Encode()
    {
        var size = LedgersAt + (8 * Vote.Ledgers.Length) + 4 + (ShardCodec.TransferSize * Chain.Length);
        var b = new byte[size];
        var s = b.AsSpan();
        s[0] = (byte)Status;
        BinaryPrimitives.WriteUInt64LittleEndian(s[OwnedAt..], Owned);
        BinaryPrimitives.WriteUInt64LittleEndian(s[DebitSidesAt..], DebitSides);
        BinaryPrimitives.WriteUInt64LittleEndian(s[CreditSidesAt..], CreditSides);
        s[VoteAt] = Vote.Prepared ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt32LittleEndian(s[(VoteAt + 1)..], Vote.FailedLeg);
        BinaryPrimitives.WriteUInt16LittleEndian(s[(VoteAt + 5)..], (ushort)Vote.Code);
        BinaryPrimitives.WriteUInt32LittleEndian(s[LedgerCountAt..], (uint)Vote.Ledgers.Length);
        var at = LedgersAt;
        foreach (var l in Vote.Ledgers)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[at..], l.Debit);
            BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 4)..], l.Credit);
            at += 8;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(s[at..], (uint)Chain.Length);
        at += 4;
        foreach (var t in Chain)
        {
            ShardCodec.WriteTransfer(s[at..], t);
            at += ShardCodec.TransferSize;
        }

        return b;
    }

    public static TxnRecord Decode(ReadOnlySpan<byte> s)
    {
        var ledgerCount = (int)BinaryPrimitives.ReadUInt32LittleEndian(s[LedgerCountAt..]);
        var ledgers = new LegLedgers[ledgerCount];
        var at = LedgersAt;
        for (var i = 0; i < ledgerCount; i++)
        {
            ledgers[i] = new LegLedgers(BinaryPrimitives.ReadUInt32LittleEndian(s[at..]), BinaryPrimitives.ReadUInt32LittleEndian(s[(at + 4)..]));
            at += 8;
        }

        var chainCount = (int)BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);
        at += 4;
        var chain = new Transfer[chainCount];
        for (var i = 0; i < chainCount; i++)
        {
            chain[i] = ShardCodec.ReadTransfer(s[at..]);
            at += ShardCodec.TransferSize;
        }

        return new TxnRecord
        {
            Status = (TxnStatus)s[0],
            Owned = BinaryPrimitives.ReadUInt64LittleEndian(s[OwnedAt..]),
            DebitSides = BinaryPrimitives.ReadUInt64LittleEndian(s[DebitSidesAt..]),
            CreditSides = BinaryPrimitives.ReadUInt64LittleEndian(s[CreditSidesAt..]),
            Vote = new ShardVote(s[VoteAt] != 0, BinaryPrimitives.ReadInt32LittleEndian(s[(VoteAt + 1)..]), (CreateTransferResult)BinaryPrimitives.ReadUInt16LittleEndian(s[(VoteAt + 5)..]), ledgers),
            Chain = chain,
        };
    }
}
