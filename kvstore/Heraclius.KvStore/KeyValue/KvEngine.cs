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
        // Looked up from the stack (or, for a long key, a buffer of its own); an array of the key is made only
        // for a write or delete, and is the state's own when the key exists.
        var key = opKey.Length < 256 ? stackalloc byte[opKey.Length + 1] : new byte[opKey.Length + 1];
        key[0] = 0x01;
        opKey.CopyTo(key[1..]);
        var stored = state.Get(key, out var storedKey);
        var version = stored is null ? 0 : BinaryPrimitives.ReadUInt64LittleEndian(stored);
        switch (op)
        {
            case KvOpCode.Get:
                return stored is null
                    ? KvResult.Encode(KvStatus.NotFound, 0, [])
                    : KvResult.Encode(KvStatus.Ok, version, stored.AsSpan(8));
            case KvOpCode.Put:
                return Write(state, storedKey ?? key.ToArray(), version, value);
            case KvOpCode.Delete:
                if (stored is null || storedKey is null)
                {
                    return KvResult.Encode(KvStatus.NotFound, 0, []);
                }

                state.Delete(storedKey);
                return KvResult.Encode(KvStatus.Ok, version, []);
            case KvOpCode.Cas:
                return version != expectedVersion
                    ? KvResult.Encode(KvStatus.VersionMismatch, version, [])
                    : Write(state, storedKey ?? key.ToArray(), version, value);
            default:
                return Malformed();
        }
    }

    private static byte[] Write(IStateAccess state, byte[] key, ulong version, ReadOnlySpan<byte> value)
    {
        var stored = new byte[8 + value.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(stored, version + 1);
        value.CopyTo(stored.AsSpan(8));
        state.Put(key, stored);
        return KvResult.Encode(KvStatus.Ok, version + 1, []);
    }
}
