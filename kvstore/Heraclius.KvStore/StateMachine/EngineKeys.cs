using System.Buffers.Binary;


namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// Keys of the engine's own replicated state, all under the 0x00 prefix that services may not use:
/// last timestamp, per-destination last group height, per-client session window.
/// </summary>
internal static class EngineKeys
{
    public static readonly byte[] LastTimestamp = [0x00, (byte)'T'];

    public static byte[] LastGroupHeight(string destination) => Prefixed((byte)'G', destination, 0);

    public static byte[] ClientMaxSeq(string clientId) => Prefixed((byte)'M', clientId, 0);

    public static byte[] ClientSlot(string clientId, ulong slot)
    {
        var key = Prefixed((byte)'R', clientId, 8);
        BinaryPrimitives.WriteUInt64BigEndian(key.AsSpan(key.Length - 8), slot);
        return key;
    }

    private static byte[] Prefixed(byte tag, string id, int extra)
    {
        var idBytes = System.Text.Encoding.UTF8.GetByteCount(id);
        var key = new byte[3 + idBytes + extra];
        key[0] = 0x00;
        key[1] = tag;
        System.Text.Encoding.UTF8.GetBytes(id, key.AsSpan(2));
        key[2 + idBytes] = 0x00;
        return key;
    }
}
