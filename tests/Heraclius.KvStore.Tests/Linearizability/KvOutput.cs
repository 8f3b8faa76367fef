using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// What the store answered. Version means: Get Ok, the key's version; Put and Cas Ok, the new
/// version; Delete Ok, the version the key had; VersionMismatch, the current version (0 when
/// absent); NotFound, 0. Value is compared only for Get Ok, because the store returns no value
/// for the other operations.
/// </summary>
public sealed record KvOutput
{
    private KvOutput(KvOutputStatus status, ulong version, string? value)
    {
        Status = status;
        Version = version;
        Value = value;
    }

    public KvOutputStatus Status { get; }

    public ulong Version { get; }

    public string? Value { get; }

    public static KvOutput NotFound { get; } = new(KvOutputStatus.NotFound, 0, null);

    /// <summary>A successful Put, Cas or Delete (no value), or a Get that found <paramref name="value"/>.</summary>
    public static KvOutput Ok(ulong version, string? value = null) => new(KvOutputStatus.Ok, version, value);

    public static KvOutput VersionMismatch(ulong currentVersion) => new(KvOutputStatus.VersionMismatch, currentVersion, null);

    /// <summary>The answer of the real store to an operation of <paramref name="kind"/>, its value as hex.</summary>
    public static KvOutput From(KvResult result, KvOperationKind kind)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Status switch
        {
            KvStatus.Ok => Ok(result.Version, kind == KvOperationKind.Get ? Convert.ToHexString(result.Value) : null),
            KvStatus.NotFound => new KvOutput(KvOutputStatus.NotFound, result.Version, null),
            KvStatus.VersionMismatch => VersionMismatch(result.Version),
            _ => throw new ArgumentException($"a well-formed operation was answered {result.Status}", nameof(result)),
        };
    }

    public override string ToString() => Status switch
    {
        KvOutputStatus.Ok when Value is not null => $"Ok \"{Value}\" v{Version}",
        KvOutputStatus.NotFound when Version == 0 => "NotFound",
        _ => $"{Status} v{Version}",
    };
}
