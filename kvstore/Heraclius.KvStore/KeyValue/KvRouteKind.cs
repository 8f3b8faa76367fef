namespace Heraclius.KvStore.KeyValue;

public enum KvRouteKind : byte
{
    Request = 1,
    Response = 2,

    /// <summary>
    /// Shard → coordinator: the shard did not run the operation, its decision's outputs having reached their budget (an
    /// answer is not bounded by its request: a Get of a 64 KiB value). The coordinator answers the client overloaded.
    /// </summary>
    Refused = 3,
}
