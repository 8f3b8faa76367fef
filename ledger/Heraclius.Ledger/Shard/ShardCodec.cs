using System.Buffers.Binary;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Shard;

/// <summary>
/// Span encodings of accounts and transfers, byte for byte the same as <see cref="Protocol.LedgerCodec"/>
/// (tests pin this): the engine encodes several per leg and a writer object each was needless work.
/// </summary>
internal static class ShardCodec
{
    public const int AccountSize = 80;
    public const int TransferSize = 108;

    public static void WriteId(Span<byte> destination, UInt128 id) => BinaryPrimitives.WriteUInt128LittleEndian(destination, id);

    public static UInt128 ReadId(ReadOnlySpan<byte> source) => BinaryPrimitives.ReadUInt128LittleEndian(source);

    public static void WriteAccount(Span<byte> d, in Account a)
    {
        WriteId(d, a.Id);
        BinaryPrimitives.WriteUInt32LittleEndian(d[16..], a.Ledger);
        BinaryPrimitives.WriteUInt16LittleEndian(d[20..], a.Code);
        WriteId(d[22..], a.Owner);
        BinaryPrimitives.WriteUInt16LittleEndian(d[38..], (ushort)a.Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(d[40..], a.DebitsPending);
        BinaryPrimitives.WriteUInt64LittleEndian(d[48..], a.DebitsPosted);
        BinaryPrimitives.WriteUInt64LittleEndian(d[56..], a.CreditsPending);
        BinaryPrimitives.WriteUInt64LittleEndian(d[64..], a.CreditsPosted);
        BinaryPrimitives.WriteUInt64LittleEndian(d[72..], a.Timestamp);
    }

    public static Account ReadAccount(ReadOnlySpan<byte> s) => new(
        ReadId(s),
        BinaryPrimitives.ReadUInt32LittleEndian(s[16..]),
        BinaryPrimitives.ReadUInt16LittleEndian(s[20..]),
        ReadId(s[22..]),
        (AccountFlags)BinaryPrimitives.ReadUInt16LittleEndian(s[38..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[40..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[48..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[56..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[64..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[72..]));

    public static void WriteTransfer(Span<byte> d, in Transfer t)
    {
        WriteId(d, t.Id);
        WriteId(d[16..], t.DebitAccountId);
        WriteId(d[32..], t.CreditAccountId);
        BinaryPrimitives.WriteUInt64LittleEndian(d[48..], t.Amount);
        WriteId(d[56..], t.PendingId);
        WriteId(d[72..], t.UserData);
        BinaryPrimitives.WriteUInt32LittleEndian(d[88..], t.Timeout);
        BinaryPrimitives.WriteUInt32LittleEndian(d[92..], t.Ledger);
        BinaryPrimitives.WriteUInt16LittleEndian(d[96..], t.Code);
        BinaryPrimitives.WriteUInt16LittleEndian(d[98..], (ushort)t.Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(d[100..], t.Timestamp);
    }

    public static Transfer ReadTransfer(ReadOnlySpan<byte> s) => new(
        ReadId(s),
        ReadId(s[16..]),
        ReadId(s[32..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[48..]),
        ReadId(s[56..]),
        ReadId(s[72..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[88..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[92..]),
        BinaryPrimitives.ReadUInt16LittleEndian(s[96..]),
        (TransferFlags)BinaryPrimitives.ReadUInt16LittleEndian(s[98..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[100..]));
}
