namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// The sequential specification of one key, exactly as KeyValueService executes it: a write
/// (Put, or Cas whose expected version equals the current one, 0 meaning absent) sets the version
/// to current + 1 and answers the new version; Delete of a present key answers the old version
/// and makes the key absent again, so the next write creates it at version 1; Delete of an absent
/// key answers NotFound; a failed Cas answers VersionMismatch with the current version.
/// </summary>
internal static class KvRegisterModel
{
    /// <summary>Executes <paramref name="op"/> on <paramref name="state"/>: the next state and the answer the store gives.</summary>
    public static KvKeyState Apply(KvKeyState state, in PartitionOperation op, out KvOutputStatus status, out ulong version, out int valueId)
    {
        valueId = KvKeyState.NoValue;
        switch (op.Kind)
        {
            case KvOperationKind.Get:
                if (state.IsAbsent)
                {
                    status = KvOutputStatus.NotFound;
                    version = 0;
                }
                else
                {
                    status = KvOutputStatus.Ok;
                    version = state.Version;
                    valueId = state.ValueId;
                }

                return state;
            case KvOperationKind.Put:
                status = KvOutputStatus.Ok;
                version = state.Version + 1;
                return new KvKeyState(version, op.InputValueId);
            case KvOperationKind.Delete:
                if (state.IsAbsent)
                {
                    status = KvOutputStatus.NotFound;
                    version = 0;
                    return state;
                }

                status = KvOutputStatus.Ok;
                version = state.Version;
                return KvKeyState.Absent;
            case KvOperationKind.Cas:
                if (state.Version != op.ExpectedVersion)
                {
                    status = KvOutputStatus.VersionMismatch;
                    version = state.Version;
                    return state;
                }

                status = KvOutputStatus.Ok;
                version = state.Version + 1;
                return new KvKeyState(version, op.InputValueId);
            default:
                throw new InvalidOperationException($"unknown kind {op.Kind}");
        }
    }

    /// <summary>
    /// Whether <paramref name="op"/> may take effect in <paramref name="state"/> with the output it
    /// recorded. A pending operation's output is unknown, so any answer is accepted; its effect on
    /// the state still follows from the model.
    /// </summary>
    public static bool Step(KvKeyState state, in PartitionOperation op, out KvKeyState next)
    {
        next = Apply(state, op, out var status, out var version, out var valueId);
        if (op.IsPending)
        {
            return true;
        }

        return status == op.OutputStatus
            && version == op.OutputVersion
            && (op.Kind != KvOperationKind.Get || status != KvOutputStatus.Ok || valueId == op.OutputValueId);
    }
}
