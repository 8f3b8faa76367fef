using System.Buffers.Binary;
using Heraclius.Ledger.Protocol;

namespace Heraclius.Ledger.Coordinator.State;

/// <summary>
/// The coordinator's keys in replicated state (docs/design.md "Coordinator state"). The first byte
/// names the kind; integers in keys are big-endian so a dump sorts them in numeric order.
/// </summary>
internal static class CoordinatorKeys
{
    public const byte MetaPrefix = (byte)'N';
    public const byte TxnPrefix = (byte)'X';
    public const byte IndexPrefix = (byte)'I';
    public const byte BucketPrefix = (byte)'T';

    /// <summary>The one meta record; never mutated, so sharing the array as a key is safe.</summary>
    public static readonly byte[] Meta = [MetaPrefix];

    public static byte[] Txn(ulong txn) => U64Key(TxnPrefix, txn);

    /// <summary>The size of <see cref="Txn"/>'s key, for building it in a buffer (<see cref="WriteTxn"/>).</summary>
    public const int TxnKeySize = 9;

    /// <summary><see cref="Txn"/>'s bytes written into <paramref name="key"/> (a key looked up without an array of its own).</summary>
    public static ReadOnlySpan<byte> WriteTxn(Span<byte> key, ulong txn)
    {
        key[0] = TxnPrefix;
        BinaryPrimitives.WriteUInt64BigEndian(key[1..], txn);
        return key[..TxnKeySize];
    }

    public static byte[] Bucket(ulong second) => U64Key(BucketPrefix, second);

    public static byte[] Index(UInt128 firstTransferId)
    {
        var key = new byte[17];
        key[0] = IndexPrefix;
        LedgerCodec.WriteIdTo(key.AsSpan(1), firstTransferId);
        return key;
    }

    private static byte[] U64Key(byte prefix, ulong value)
    {
        var key = new byte[9];
        key[0] = prefix;
        BinaryPrimitives.WriteUInt64BigEndian(key.AsSpan(1), value);
        return key;
    }
}
