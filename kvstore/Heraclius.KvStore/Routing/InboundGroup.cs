using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;

namespace Heraclius.KvStore.Routing;

/// <summary>
/// A compact decision another cluster decided for this one, as carried in proposal inputs: the
/// exact bytes that travelled (so every replica hashes and re-reads the same thing) and their parse.
/// </summary>
public sealed class InboundGroup
{
    public const int MaxBytes = OutputGroup.MaxPayloadBytes + (64 * 1024);

    private InboundGroup(byte[] bytes, CompactDecision decision)
    {
        Bytes = bytes;
        Decision = decision;
        Digest = Hash32.Of(bytes);
    }

    public byte[] Bytes { get; }

    public CompactDecision Decision { get; }

    /// <summary>SHA-256 of <see cref="Bytes"/>: what verification results are cached under.</summary>
    public Hash32 Digest { get; }

    public string Source => Decision.Header.Cluster;

    public ulong Height => Decision.Header.Height;

    public ulong PrevHeight => Decision.Group.PrevHeight;

    /// <summary>Parses the bytes (throws <see cref="Encoding.MalformedMessageException"/> on garbage); verifies nothing.</summary>
    public static InboundGroup Parse(byte[] bytes) => new(bytes, CompactDecision.FromBytes(bytes));

    public static InboundGroup From(CompactDecision decision) => new(decision.ToBytes(), decision);
}
