namespace Heraclius.KvStore.KeyValue;

public enum KvOpCode : byte
{
    Get = 1,
    Put = 2,
    Delete = 3,
    Cas = 4,
}
