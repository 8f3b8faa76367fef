using System.Buffers.Binary;

namespace Heraclius.Ledger.Shard;

/// <summary>The shard ledger's state keys (the layout is in <see cref="ShardLedger"/>'s remarks and docs/design.md).</summary>
internal static class StateKeys
{
    public const byte AccountPrefix = 0x11;
    public const byte TransferPrefix = 0x12;
    public const byte HistoryPrefix = 0x13;
    public const byte TxnPrefix = 0x14;
    public const byte TimerPrefix = 0x15;
    public const byte BucketPrefix = 0x16;
    public const byte WheelEntryPrefix = 0x17;
    public const byte PreparedUpToPrefix = 0x18;

    private static readonly byte[] TimerCountKey = [TimerPrefix, 1];
    private static readonly byte[] TimerCursorKey = [TimerPrefix, 2];
    private static readonly byte[] TimerNextDueKey = [TimerPrefix, 3];

    public static byte[] TimerCount => TimerCountKey;

    public static byte[] TimerCursor => TimerCursorKey;

    public static byte[] TimerNextDue => TimerNextDueKey;

    public static byte[] Account(UInt128 id) => Id(AccountPrefix, id);

    /// <summary>The size of an account's or a transfer's key (prefix ‖ id).</summary>
    public const int IdKeySize = 17;

    /// <summary><see cref="Account"/>'s or <see cref="Transfer"/>'s bytes (by <paramref name="prefix"/>) written into <paramref name="key"/>, to look up without an array.</summary>
    public static ReadOnlySpan<byte> WriteId(Span<byte> key, byte prefix, UInt128 id)
    {
        key[0] = prefix;
        ShardCodec.WriteId(key[1..], id);
        return key[..IdKeySize];
    }

    /// <summary><see cref="Txn"/>'s bytes written into <paramref name="key"/> when they fit (else an array of them).</summary>
    public static ReadOnlySpan<byte> WriteTxn(Span<byte> key, string coordinator, ulong txn)
    {
        var length = 9 + System.Text.Encoding.UTF8.GetByteCount(coordinator);
        if (length > key.Length)
        {
            return Txn(coordinator, txn);
        }

        key[0] = TxnPrefix;
        BinaryPrimitives.WriteUInt64LittleEndian(key[1..], txn);
        System.Text.Encoding.UTF8.GetBytes(coordinator, key[9..]);
        return key[..length];
    }

    /// <summary><see cref="PreparedUpTo"/>'s bytes written into <paramref name="key"/> when they fit (else an array of them).</summary>
    public static ReadOnlySpan<byte> WritePreparedUpTo(Span<byte> key, string coordinator)
    {
        var length = 1 + System.Text.Encoding.UTF8.GetByteCount(coordinator);
        if (length > key.Length)
        {
            return PreparedUpTo(coordinator);
        }

        key[0] = PreparedUpToPrefix;
        System.Text.Encoding.UTF8.GetBytes(coordinator, key[1..]);
        return key[..length];
    }

    public static byte[] Transfer(UInt128 id) => Id(TransferPrefix, id);

    public static byte[] History(UInt128 accountId, ulong sequence)
    {
        var key = new byte[25];
        key[0] = HistoryPrefix;
        ShardCodec.WriteId(key.AsSpan(1), accountId);
        BinaryPrimitives.WriteUInt64LittleEndian(key.AsSpan(17), sequence);
        return key;
    }

    /// <summary>Txn first, coordinator id last: the variable-length part ends the key, so no two (coordinator, txn) pairs share one.</summary>
    public static byte[] Txn(string coordinator, ulong txn)
    {
        var length = System.Text.Encoding.UTF8.GetByteCount(coordinator);
        var key = new byte[9 + length];
        key[0] = TxnPrefix;
        BinaryPrimitives.WriteUInt64LittleEndian(key.AsSpan(1), txn);
        System.Text.Encoding.UTF8.GetBytes(coordinator, key.AsSpan(9));
        return key;
    }

    /// <summary>The highest txn this shard prepared from <paramref name="coordinator"/>: what tells a forgotten txn from a new one.</summary>
    public static byte[] PreparedUpTo(string coordinator)
    {
        var key = new byte[1 + System.Text.Encoding.UTF8.GetByteCount(coordinator)];
        key[0] = PreparedUpToPrefix;
        System.Text.Encoding.UTF8.GetBytes(coordinator, key.AsSpan(1));
        return key;
    }

    public static byte[] Bucket(ulong second)
    {
        var key = new byte[9];
        key[0] = BucketPrefix;
        BinaryPrimitives.WriteUInt64LittleEndian(key.AsSpan(1), second);
        return key;
    }

    public static byte[] WheelEntry(ulong second, uint slot)
    {
        var key = new byte[13];
        key[0] = WheelEntryPrefix;
        BinaryPrimitives.WriteUInt64LittleEndian(key.AsSpan(1), second);
        BinaryPrimitives.WriteUInt32LittleEndian(key.AsSpan(9), slot);
        return key;
    }

    private static byte[] Id(byte prefix, UInt128 id)
    {
        var key = new byte[17];
        key[0] = prefix;
        ShardCodec.WriteId(key.AsSpan(1), id);
        return key;
    }
}
