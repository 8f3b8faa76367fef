using System.Buffers.Binary;

namespace Heraclius.Ledger.Shard;

/// <summary>
/// The header of one second of the expiry wheel: u32 next slot ‖ u32 first slot that may be live ‖
/// u32 live entries ‖ u8 sorted ‖ u64 min deadline ‖ u64 last deadline appended. Entries
/// (second, slot) → id ‖ u64 deadline ms. The min deadline lets a timer run skip the current second's
/// bucket with one read when nothing in it is due yet; when entries were appended in deadline order
/// (one common timeout) a scan stops at the first one not due.
/// </summary>
internal struct WheelBucket
{
    public const int Size = 4 + 4 + 4 + 1 + 8 + 8;

    public uint Next;
    public uint First;
    public uint Live;
    public bool Sorted;
    public ulong MinDeadline;
    public ulong LastDeadline;

    public readonly byte[] Encode()
    {
        var b = new byte[Size];
        var s = b.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s, Next);
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], First);
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], Live);
        s[12] = Sorted ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt64LittleEndian(s[13..], MinDeadline);
        BinaryPrimitives.WriteUInt64LittleEndian(s[21..], LastDeadline);
        return b;
    }

    public static WheelBucket Decode(ReadOnlySpan<byte> s) => new()
    {
        Next = BinaryPrimitives.ReadUInt32LittleEndian(s),
        First = BinaryPrimitives.ReadUInt32LittleEndian(s[4..]),
        Live = BinaryPrimitives.ReadUInt32LittleEndian(s[8..]),
        Sorted = s[12] != 0,
        MinDeadline = BinaryPrimitives.ReadUInt64LittleEndian(s[13..]),
        LastDeadline = BinaryPrimitives.ReadUInt64LittleEndian(s[21..]),
    };
}
