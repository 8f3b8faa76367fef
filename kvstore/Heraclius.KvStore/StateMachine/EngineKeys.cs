using System.Buffers.Binary;


namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// Keys of the engine's own replicated state, all under the 0x00 prefix that services may not use:
/// last timestamp, per-destination last group height, per-client session window, and the
/// cluster-to-cluster flow state (inbound cursors, sent counts, the ring of sent heights, acks).
/// </summary>
internal static class EngineKeys
{
    public static readonly byte[] LastTimestamp = [0x00, (byte)'T'];

    public static byte[] LastGroupHeight(string destination) => Prefixed((byte)'G', destination, 0);

    /// <summary>u64: height of the last group processed from a source cluster (0 = none).</summary>
    public static byte[] InboundCursor(string source) => Prefixed((byte)'I', source, 0);

    /// <summary>u64 ackedHeight ‖ u64 ackedCount: how far a destination acknowledged our groups.</summary>
    public static byte[] Acked(string destination) => Prefixed((byte)'A', destination, 0);

    /// <summary>u64: groups ever emitted to a destination cluster.</summary>
    public static byte[] SentCount(string destination) => Prefixed((byte)'S', destination, 0);

    /// <summary>u64 height of the group with this count (mod the ring size) sent to a destination.</summary>
    public static byte[] SentRing(string destination, ulong slot)
    {
        var key = Prefixed((byte)'W', destination, 8);
        BinaryPrimitives.WriteUInt64BigEndian(key.AsSpan(key.Length - 8), slot);
        return key;
    }

    /// <summary>u64: non-empty groups processed from a source since our last group to it.</summary>
    public static byte[] SinceReply(string source) => Prefixed((byte)'P', source, 0);

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
