using System.Buffers.Binary;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.Ledger.Coordinator.State;

/// <summary>
/// The coordinator's counters, one 32-byte value under <see cref="CoordinatorKeys.Meta"/>:
/// u64 lastTxn ‖ u64 wheelCursor (last deadline second processed) ‖ u64 maxBucket (highest second
/// with a bucket) ‖ u64 preparing (records waiting for votes: what HasTimers reads).
/// </summary>
internal struct CoordinatorMeta
{
    public const int Size = 32;

    public ulong LastTxn;
    public ulong WheelCursor;
    public ulong MaxBucket;
    public ulong Preparing;

    /// <summary>The stored counters, or a fresh set whose wheel starts just before <paramref name="nowMs"/>'s second (so the first timer run has no past to walk).</summary>
    public static CoordinatorMeta Read(IStateAccess state, ulong nowMs, out bool exists)
    {
        // Read in place: every vote that completes a txn's votes reads these counters.
        exists = state.TryRead(CoordinatorKeys.Meta, out var span) && span.Length == Size;
        if (!exists)
        {
            var second = nowMs / 1000;
            return new CoordinatorMeta { WheelCursor = second == 0 ? 0 : second - 1, MaxBucket = 0 };
        }

        return new CoordinatorMeta
        {
            LastTxn = BinaryPrimitives.ReadUInt64LittleEndian(span),
            WheelCursor = BinaryPrimitives.ReadUInt64LittleEndian(span[8..]),
            MaxBucket = BinaryPrimitives.ReadUInt64LittleEndian(span[16..]),
            Preparing = BinaryPrimitives.ReadUInt64LittleEndian(span[24..]),
        };
    }

    public static bool HasPreparing(IStateAccess state)
    {
        return state.TryRead(CoordinatorKeys.Meta, out var span) && span.Length == Size && BinaryPrimitives.ReadUInt64LittleEndian(span[24..]) != 0;
    }

    public readonly void Write(IStateAccess state)
    {
        var bytes = new byte[Size];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteUInt64LittleEndian(span, LastTxn);
        BinaryPrimitives.WriteUInt64LittleEndian(span[8..], WheelCursor);
        BinaryPrimitives.WriteUInt64LittleEndian(span[16..], MaxBucket);
        BinaryPrimitives.WriteUInt64LittleEndian(span[24..], Preparing);
        state.Put(CoordinatorKeys.Meta, bytes);
    }
}
