using System.Buffers.Binary;
using Heraclius.KvStore.Routing;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// The cluster-to-cluster flow state kept in replicated state: inbound cursors, the count and
/// heights of groups sent per destination, how far each destination acknowledged, and how many
/// groups arrived since we last wrote back. Reads and writes go through the open transaction.
/// </summary>
internal sealed class FlowControl
{
    private readonly StateTransaction _state;
    private readonly RoutingSettings _routing;

    // Every read or write here is of a key that exists after a cluster's first exchanges: looked up from a
    // reused buffer, and written under the state's own key array (CanSend alone read two keys per request).
    private readonly EngineKeys.Scratch _keys = new();

    public FlowControl(StateTransaction state, RoutingSettings routing)
    {
        _state = state;
        _routing = routing;
    }

    public ulong Cursor(string source) => ReadU64(_keys.InboundCursor(source));

    public void SetCursor(string source, ulong height) => _state.Put(_keys.InboundCursor(source), U64(height));

    public (ulong Height, ulong Count) Acked(string destination)
    {
        return _state.TryRead(_keys.Acked(destination), out var v)
            ? (BinaryPrimitives.ReadUInt64LittleEndian(v), BinaryPrimitives.ReadUInt64LittleEndian(v[8..]))
            : (0, 0);
    }

    public ulong Sent(string destination) => ReadU64(_keys.SentCount(destination));

    public ulong Unacked(string destination) => Sent(destination) - Acked(destination).Count;

    /// <summary>
    /// Records a group emitted to <paramref name="destination"/> at <paramref name="height"/>. Only groups
    /// that carry messages count towards the window: an ack-only group is acknowledged only when the
    /// destination next writes back, which it may never need to, and counting it would let a cluster's own
    /// acknowledgements fill its window for good (found in test: a coordinator with W = 2 acknowledged two
    /// answers of an idle shard and refused every later request for it).
    /// </summary>
    public void RecordSent(string destination, ulong height, bool counted)
    {
        _state.Put(_keys.SinceReply(destination), U64(0));
        if (!counted)
        {
            return;
        }

        var count = Sent(destination) + 1;
        _state.Put(_keys.SentCount(destination), U64(count));
        _state.Put(_keys.SentRing(destination, count % (ulong)_routing.RingSize), U64(height));
    }

    /// <summary>
    /// Takes the acknowledgement <paramref name="ackHeight"/> carried by a group from
    /// <paramref name="destination"/>: our groups up to that height arrived. The count acknowledged is
    /// found in the ring of sent heights: every counted group at or below it (the destination's cursor is
    /// cumulative, and may name an ack-only group, which the ring does not hold); an ack older than the
    /// ring counts conservatively (fewer acknowledged than really were).
    /// </summary>
    public void Acknowledge(string destination, ulong ackHeight)
    {
        var (ackedHeight, ackedCount) = Acked(destination);
        if (ackHeight <= ackedHeight)
        {
            return;
        }

        var sent = Sent(destination);
        var ring = (ulong)_routing.RingSize;
        var lowest = Math.Max(ackedCount + 1, sent > ring ? sent - ring + 1 : 1);
        // Every counted group already acknowledged: the ack may still pass ack-only groups, whose queue entries it releases.
        // The largest count whose height is at or below the ack (heights grow with the count), or, when the
        // ack is older than anything the ring holds, everything before the ring's oldest at least.
        ulong lo = lowest, hi = sent, found = lowest - 1;
        while (lo <= hi)
        {
            var mid = lo + ((hi - lo) / 2);
            if (RingHeight(destination, mid, ring) <= ackHeight)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        var v = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(v, ackHeight);
        BinaryPrimitives.WriteUInt64LittleEndian(v.AsSpan(8), Math.Max(found, ackedCount));
        _state.Put(_keys.Acked(destination), v);
    }

    public ulong SinceReply(string source) => ReadU64(_keys.SinceReply(source));

    public void CountReceived(string source)
    {
        var count = SinceReply(source) + 1;
        _state.Put(_keys.SinceReply(source), U64(count));
    }

    private ulong RingHeight(string destination, ulong count, ulong ring) => ReadU64(_keys.SentRing(destination, count % ring));

    private ulong ReadU64(ReadOnlySpan<byte> key)
    {
        return _state.TryRead(key, out var v) ? BinaryPrimitives.ReadUInt64LittleEndian(v) : 0;
    }

    private static byte[] U64(ulong value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return b;
    }
}
