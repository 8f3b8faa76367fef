using System.Buffers.Binary;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Shard;

/// <summary>
/// A stored transfer id: transfer (108 bytes, timestamp = when its result became final) ‖ u16 result ‖
/// u8 status ‖ u8 sides held here (1 debit, 2 credit) ‖ u8 pending state ‖ u8 locked ‖ u64 expiry (ms,
/// 0 = never) ‖ u64 wheel second ‖ u32 wheel slot (second 0 = not in the expiry wheel).
/// </summary>
internal struct TransferRecord
{
    public const int Size = ShardCodec.TransferSize + 2 + 1 + 1 + 1 + 1 + 8 + 8 + 4;
    public const byte DebitSide = 1;
    public const byte CreditSide = 2;

    public Transfer Transfer;
    public CreateTransferResult Result;
    public TransferRecordStatus Status;
    public byte Sides;
    public PendingState State;
    public bool Locked;
    public ulong DeadlineMs;
    public ulong WheelSecond;
    public uint WheelSlot;

    public readonly byte[] Encode()
    {
        var b = new byte[Size];
        ShardCodec.WriteTransfer(b, Transfer);
        var s = b.AsSpan(ShardCodec.TransferSize);
        BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)Result);
        s[2] = (byte)Status;
        s[3] = Sides;
        s[4] = (byte)State;
        s[5] = Locked ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt64LittleEndian(s[6..], DeadlineMs);
        BinaryPrimitives.WriteUInt64LittleEndian(s[14..], WheelSecond);
        BinaryPrimitives.WriteUInt32LittleEndian(s[22..], WheelSlot);
        return b;
    }

    public static TransferRecord Decode(ReadOnlySpan<byte> b)
    {
        if (b.Length != Size)
        {
            throw new InvalidOperationException($"stored transfer of {b.Length} bytes, expected {Size}");
        }

        var s = b[ShardCodec.TransferSize..];
        return new TransferRecord
        {
            Transfer = ShardCodec.ReadTransfer(b),
            Result = (CreateTransferResult)BinaryPrimitives.ReadUInt16LittleEndian(s),
            Status = (TransferRecordStatus)s[2],
            Sides = s[3],
            State = (PendingState)s[4],
            Locked = s[5] != 0,
            DeadlineMs = BinaryPrimitives.ReadUInt64LittleEndian(s[6..]),
            WheelSecond = BinaryPrimitives.ReadUInt64LittleEndian(s[14..]),
            WheelSlot = BinaryPrimitives.ReadUInt32LittleEndian(s[22..]),
        };
    }
}
