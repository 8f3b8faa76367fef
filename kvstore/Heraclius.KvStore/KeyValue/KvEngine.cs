using System.Buffers.Binary;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.KeyValue;

/// <summary>
/// The key-value semantics, wherever the keys live: Get, Put, Delete and compare-and-set on a
/// per-key version (1 on creation, +1 per write; a deleted key starts again at 1).
/// Stored as 0x01 ‖ key → u64 version ‖ value.
/// </summary>
public static class KvEngine
{
    public static byte[] Execute(IStateAccess state, KvOperation? op) =>
        op is null
            ? Malformed()
            : Execute(state, op.Op, op.Key, op.Value, op.ExpectedVersion);

    /// <summary>Parses and executes an operation's bytes without copying its key or value first.</summary>
    public static byte[] Execute(IStateAccess state, ReadOnlySpan<byte> operation) =>
        KvOperationView.TryParse(operation, out var op)
            ? Execute(state, op.Op, op.Key, op.Value, op.ExpectedVersion)
            : Malformed();

    private static byte[] Malformed() => KvResult.Encode(KvStatus.Malformed, 0, []);

    private static byte[] Execute(IStateAccess state, KvOpCode op, ReadOnlySpan<byte> opKey, ReadOnlySpan<byte> value, ulong expectedVersion)
    {
        // Looked up and written from the stack (or, for a long key, a buffer of its own): no array of the key.
        var key = opKey.Length < 256 ? stackalloc byte[opKey.Length + 1] : new byte[opKey.Length + 1];
        key[0] = 0x01;
        opKey.CopyTo(key[1..]);
        // The stored bytes are read in place: used before this request writes anything.
        var found = state.TryRead(key, out var stored);
        var version = found ? BinaryPrimitives.ReadUInt64LittleEndian(stored) : 0;
        switch (op)
        {
            case KvOpCode.Get:
                return found
                    ? KvResult.Encode(KvStatus.Ok, version, stored[8..])
                    : KvResult.Encode(KvStatus.NotFound, 0, []);
            case KvOpCode.Put:
                return Write(state, key, version, value);
            case KvOpCode.Delete:
                if (!found)
                {
                    return KvResult.Encode(KvStatus.NotFound, 0, []);
                }

                state.Delete(key.ToArray());
                return KvResult.Encode(KvStatus.Ok, version, []);
            case KvOpCode.Cas:
                return version != expectedVersion
                    ? KvResult.Encode(KvStatus.VersionMismatch, version, [])
                    : Write(state, key, version, value);
            default:
                return Malformed();
        }
    }

    private static byte[] Write(IStateAccess state, ReadOnlySpan<byte> key, ulong version, ReadOnlySpan<byte> value)
    {
        var stored = new byte[8 + value.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(stored, version + 1);
        value.CopyTo(stored.AsSpan(8));
        state.Put(key, stored);
        return KvResult.Encode(KvStatus.Ok, version + 1, []);
    }
}
