namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// The state of one key in the sequential model: its version (0 exactly when absent, as in the
/// store) and its value, interned to an id within the key's partition so that states hash and
/// compare cheaply in the checker's cache.
/// </summary>
internal readonly record struct KvKeyState(ulong Version, int ValueId)
{
    public const int NoValue = -1;

    public static KvKeyState Absent { get; } = new(0, NoValue);

    public bool IsAbsent => Version == 0;
}
