using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;

namespace Heraclius.KvStore.Routing;

/// <summary>
/// A compact decision another cluster decided for this one, as carried in proposal inputs: the
/// exact bytes that travelled (so every replica hashes and re-reads the same thing) and their parse.
/// The parse is a view of those bytes (the payload is a slice, not a copy), so they must never change.
/// </summary>
public sealed class InboundGroup
{
    public const int MaxBytes = OutputGroup.MaxPayloadBytes + (64 * 1024);

    private InboundGroup(ReadOnlyMemory<byte> bytes, CompactDecision decision)
    {
        Bytes = bytes;
        Decision = decision;
        Digest = Hash32.Of(bytes.Span);
    }

    public ReadOnlyMemory<byte> Bytes { get; }

    public CompactDecision Decision { get; }

    /// <summary>SHA-256 of <see cref="Bytes"/>: what verification results are cached under.</summary>
    public Hash32 Digest { get; }

    public string Source => Decision.Header.Cluster;

    public ulong Height => Decision.Header.Height;

    public ulong PrevHeight => Decision.Group.PrevHeight;

    /// <summary>
    /// Parses the bytes without copying them (throws <see cref="Encoding.MalformedMessageException"/> on
    /// garbage); verifies nothing. The caller hands over <paramref name="bytes"/>: nothing may write them later.
    /// </summary>
    public static InboundGroup Parse(ReadOnlyMemory<byte> bytes) => new(bytes, CompactDecision.FromMemory(bytes));

    public static InboundGroup From(CompactDecision decision) => new(decision.ToBytes(), decision);
}
