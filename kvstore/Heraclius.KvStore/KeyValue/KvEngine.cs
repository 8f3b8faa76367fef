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
    private static readonly byte[] Empty = [];

    public static byte[] Execute(IStateAccess state, KvOperation? op)
    {
        if (op is null)
        {
            return new KvResult(KvStatus.Malformed, 0, Empty).ToBytes();
        }

        var key = new byte[op.Key.Length + 1];
        key[0] = 0x01;
        op.Key.CopyTo(key, 1);
        var stored = state.Get(key);
        var version = stored is null ? 0 : BinaryPrimitives.ReadUInt64LittleEndian(stored);
        switch (op.Op)
        {
            case KvOpCode.Get:
                return stored is null
                    ? new KvResult(KvStatus.NotFound, 0, Empty).ToBytes()
                    : new KvResult(KvStatus.Ok, version, stored[8..]).ToBytes();
            case KvOpCode.Put:
                return Write(state, key, version, op.Value!);
            case KvOpCode.Delete:
                if (stored is null)
                {
                    return new KvResult(KvStatus.NotFound, 0, Empty).ToBytes();
                }

                state.Delete(key);
                return new KvResult(KvStatus.Ok, version, Empty).ToBytes();
            case KvOpCode.Cas:
                return version != op.ExpectedVersion
                    ? new KvResult(KvStatus.VersionMismatch, version, Empty).ToBytes()
                    : Write(state, key, version, op.Value!);
            default:
                return new KvResult(KvStatus.Malformed, 0, Empty).ToBytes();
        }
    }

    private static byte[] Write(IStateAccess state, byte[] key, ulong version, byte[] value)
    {
        var stored = new byte[8 + value.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(stored, version + 1);
        value.CopyTo(stored, 8);
        state.Put(key, stored);
        return new KvResult(KvStatus.Ok, version + 1, Empty).ToBytes();
    }
}
