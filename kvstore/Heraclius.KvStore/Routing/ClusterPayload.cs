using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Routing;

/// <summary>The payload of a cluster-to-cluster group: u32 n ‖ (bytes message)*. n = 0 is an ack-only group.</summary>
public static class ClusterPayload
{
    public const int MaxMessages = 1 << 20;

    public static byte[] Encode(IReadOnlyList<byte[]> messages)
    {
        var size = 4;
        foreach (var m in messages)
        {
            size += m.Length + 4;
        }

        var w = new CanonicalWriter(size);
        w.U32((uint)messages.Count);
        foreach (var m in messages)
        {
            w.Bytes(m);
        }

        return w.Detach();
    }

    /// <summary>The messages as slices of <paramref name="payload"/> (not copies: a group carries thousands); throws on malformed bytes.</summary>
    public static ReadOnlyMemory<byte>[] Decode(ReadOnlyMemory<byte> payload)
    {
        var r = CanonicalReader.Over(payload);
        var count = r.Count(MaxMessages);

        // Every message takes at least its 4-byte length, so a count beyond that is a lie: refused
        // before the array is sized exactly by it.
        if (count > r.Remaining / 4)
        {
            throw new MalformedMessageException($"{count} messages cannot fit in {r.Remaining} bytes");
        }

        var messages = new ReadOnlyMemory<byte>[count];
        for (var i = 0; i < count; i++)
        {
            messages[i] = r.BytesMemory(OutputGroup.MaxPayloadBytes);
        }

        r.End();
        return messages;
    }

    /// <summary>
    /// Checks the framing exactly as <see cref="Decode"/> does (the same inputs refused) without building
    /// anything, and returns the message count; then <see cref="Messages"/> walks them in place.
    /// </summary>
    public static int Validate(ReadOnlySpan<byte> payload)
    {
        var r = new CanonicalReader(payload);
        var count = r.Count(MaxMessages);
        if (count > r.Remaining / 4)
        {
            throw new MalformedMessageException($"{count} messages cannot fit in {r.Remaining} bytes");
        }

        for (var i = 0; i < count; i++)
        {
            r.BytesSpan(OutputGroup.MaxPayloadBytes);
        }

        r.End();
        return count;
    }

    /// <summary>The messages of a payload that passed <see cref="Validate"/>, as spans of it: no array, no copies.</summary>
    public static MessageEnumerator Messages(ReadOnlySpan<byte> payload) => new(payload);

    /// <summary>Walks u32 n ‖ (bytes message)* in place; only for a payload <see cref="Validate"/> accepted.</summary>
    public ref struct MessageEnumerator
    {
        private CanonicalReader _reader;
        private int _left;

        internal MessageEnumerator(ReadOnlySpan<byte> payload)
        {
            _reader = new CanonicalReader(payload);
            _left = _reader.Count(MaxMessages);
            Current = default;
        }

        public ReadOnlySpan<byte> Current { get; private set; }

        public readonly MessageEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_left == 0)
            {
                return false;
            }

            _left--;
            Current = _reader.BytesSpan(OutputGroup.MaxPayloadBytes);
            return true;
        }
    }

    /// <summary>True for an ack-only group (no messages) without decoding the rest.</summary>
    public static bool IsEmpty(ReadOnlySpan<byte> payload) =>
        payload.Length == 4 && payload[0] == 0 && payload[1] == 0 && payload[2] == 0 && payload[3] == 0;
}
