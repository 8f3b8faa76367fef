using System.Buffers.Binary;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Shard;

/// <summary>
/// A stored account, mutable while an operation works on it: the account's 80 bytes ‖ u64 number of
/// history entries (the last sequence handed out).
/// </summary>
internal struct AccountState
{
    public const int Size = ShardCodec.AccountSize + 8;

    public UInt128 Id;
    public uint Ledger;
    public ushort Code;
    public UInt128 Owner;
    public AccountFlags Flags;
    public ulong DebitsPending;
    public ulong DebitsPosted;
    public ulong CreditsPending;
    public ulong CreditsPosted;
    public ulong Timestamp;
    public ulong HistoryCount;

    public readonly bool IsClosed => (Flags & AccountFlags.Closed) != 0;

    public readonly Account ToAccount() =>
        new(Id, Ledger, Code, Owner, Flags, DebitsPending, DebitsPosted, CreditsPending, CreditsPosted, Timestamp);

    public static AccountState From(in Account a) => new()
    {
        Id = a.Id,
        Ledger = a.Ledger,
        Code = a.Code,
        Owner = a.Owner,
        Flags = a.Flags,
        DebitsPending = a.DebitsPending,
        DebitsPosted = a.DebitsPosted,
        CreditsPending = a.CreditsPending,
        CreditsPosted = a.CreditsPosted,
        Timestamp = a.Timestamp,
    };

    public readonly byte[] Encode()
    {
        var bytes = new byte[Size];
        ShardCodec.WriteAccount(bytes, ToAccount());
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(ShardCodec.AccountSize), HistoryCount);
        return bytes;
    }

    public static AccountState Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new InvalidOperationException($"stored account of {bytes.Length} bytes, expected {Size}");
        }

        var state = From(ShardCodec.ReadAccount(bytes));
        state.HistoryCount = BinaryPrimitives.ReadUInt64LittleEndian(bytes[ShardCodec.AccountSize..]);
        return state;
    }
}
