namespace Heraclius.KvStore.KeyValue;

public enum KvRouteKind : byte
{
    Request = 1,
    Response = 2,
}
