using System.Buffers.Binary;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Shard;

/// <summary>
/// What Commit and Abort read of a stored <see cref="TxnRecord"/>, straight from its bytes: the status, the
/// leg bits and one leg at a time. Decoding the whole record built a vote, a ledgers array and a chain
/// array per decision only to drop them. A view of the stored bytes, read in place: valid only until the next write
/// to the state, so Commit and Abort read every leg before they flush.
/// </summary>
internal readonly ref struct TxnRecordView
{
    private readonly ReadOnlySpan<byte> _bytes;
    private readonly int _chainAt;

    public TxnRecordView(ReadOnlySpan<byte> bytes)
    {
        _bytes = bytes;
        var ledgers = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[TxnRecord.LedgerCountAt..]);
        var countAt = TxnRecord.LedgersAt + (8 * ledgers);
        Count = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[countAt..]);
        _chainAt = countAt + 4;
    }

    public TxnStatus Status => (TxnStatus)_bytes[0];

    public ulong Owned => BinaryPrimitives.ReadUInt64LittleEndian(_bytes[TxnRecord.OwnedAt..]);

    public ulong DebitSides => BinaryPrimitives.ReadUInt64LittleEndian(_bytes[TxnRecord.DebitSidesAt..]);

    public ulong CreditSides => BinaryPrimitives.ReadUInt64LittleEndian(_bytes[TxnRecord.CreditSidesAt..]);

    /// <summary>How many legs the record keeps (the whole chain while unfinished).</summary>
    public int Count { get; }

    public Transfer Leg(int i) => ShardCodec.ReadTransfer(_bytes[(_chainAt + (i * ShardCodec.TransferSize))..]);
}
