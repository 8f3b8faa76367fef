using Heraclius.KvStore.Routing;

namespace Heraclius.Ledger.Shard;

/// <summary>Which accounts this shard holds: the sides of a leg a Prepare evaluates here.</summary>
public sealed class ShardPlacement
{
    private readonly ShardRouter? _router;
    private readonly string? _shard;
    private readonly Func<UInt128, bool>? _predicate;

    private ShardPlacement(ShardRouter? router, string? shard, Func<UInt128, bool>? predicate)
    {
        _router = router;
        _shard = shard;
        _predicate = predicate;
    }

    /// <summary>Every account is here (one shard cluster, and tests).</summary>
    public static ShardPlacement All { get; } = new(null, null, null);

    /// <summary>The accounts <paramref name="router"/> places on <paramref name="shardId"/>: ShardOf(id as 16 bytes LE).</summary>
    public static ShardPlacement ForShard(ShardRouter router, string shardId)
    {
        ArgumentNullException.ThrowIfNull(router);
        ArgumentNullException.ThrowIfNull(shardId);
        return new ShardPlacement(router, shardId, null);
    }

    /// <summary>Placement by a predicate (tests that split accounts over simulated shards).</summary>
    public static ShardPlacement Where(Func<UInt128, bool> holds)
    {
        ArgumentNullException.ThrowIfNull(holds);
        return new ShardPlacement(null, null, holds);
    }

    public bool Holds(UInt128 accountId)
    {
        if (_predicate is not null)
        {
            return _predicate(accountId);
        }

        if (_router is null)
        {
            return true;
        }

        Span<byte> key = stackalloc byte[16];
        ShardCodec.WriteId(key, accountId);
        return string.Equals(_router.ShardOf(key), _shard, StringComparison.Ordinal);
    }
}
