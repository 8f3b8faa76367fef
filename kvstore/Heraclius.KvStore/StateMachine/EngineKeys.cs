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
        var key = new byte[3 + System.Text.Encoding.UTF8.GetByteCount(id) + extra];
        WritePrefixed(key, tag, id);
        return key;
    }

    private static int WritePrefixed(Span<byte> key, byte tag, string id)
    {
        key[0] = 0x00;
        key[1] = tag;
        var idBytes = System.Text.Encoding.UTF8.GetBytes(id, key[2..]);
        key[2 + idBytes] = 0x00;
        return 3 + idBytes;
    }

    /// <summary>
    /// The same keys built in a buffer that execution reuses, for looking up (and, through
    /// <see cref="StateTransaction.Put(ReadOnlySpan{byte}, byte[])"/>, writing) keys that nearly always exist
    /// without an array per access. A span it returned is valid until its next call.
    /// </summary>
    internal sealed class Scratch
    {
        private byte[] _buffer = new byte[256];

        public ReadOnlySpan<byte> LastGroupHeight(string destination) => Key((byte)'G', destination);

        public ReadOnlySpan<byte> InboundCursor(string source) => Key((byte)'I', source);

        public ReadOnlySpan<byte> Acked(string destination) => Key((byte)'A', destination);

        public ReadOnlySpan<byte> SentCount(string destination) => Key((byte)'S', destination);

        public ReadOnlySpan<byte> SinceReply(string source) => Key((byte)'P', source);

        public ReadOnlySpan<byte> SentRing(string destination, ulong slot) => Key((byte)'W', destination, slot);

        public ReadOnlySpan<byte> ClientSlot(string clientId, ulong slot) => Key((byte)'R', clientId, slot);

        private ReadOnlySpan<byte> Key(byte tag, string id)
        {
            var buffer = Buffer(id, 0);
            return buffer[..WritePrefixed(buffer, tag, id)];
        }

        private ReadOnlySpan<byte> Key(byte tag, string id, ulong suffix)
        {
            var buffer = Buffer(id, 8);
            var length = WritePrefixed(buffer, tag, id);
            BinaryPrimitives.WriteUInt64BigEndian(buffer[length..], suffix);
            return buffer[..(length + 8)];
        }

        private Span<byte> Buffer(string id, int extra)
        {
            var needed = 3 + System.Text.Encoding.UTF8.GetMaxByteCount(id.Length) + extra;
            if (_buffer.Length < needed)
            {
                _buffer = new byte[needed];
            }

            return _buffer;
        }
    }
}
