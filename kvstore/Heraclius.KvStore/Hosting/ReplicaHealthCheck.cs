using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Heraclius.KvStore.Hosting;

/// <summary>
/// Healthy while the replica thread publishes and the node follows its cluster; degraded while it
/// is changing view or lags behind; unhealthy when the replica thread stopped publishing.
/// </summary>
public sealed class ReplicaHealthCheck : IHealthCheck
{
    private readonly ReplicaHost _host;
    private readonly TimeProvider _time;

    public ReplicaHealthCheck(ReplicaHost host, TimeProvider? time = null)
    {
        _host = host;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Decisions behind the cluster beyond which the node reports degraded.</summary>
    public ulong MaxLag { get; init; } = 1000;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var s = _host.Snapshot;
        var data = new Dictionary<string, object>();
        if (s is null)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("replica not started"));
        }

        data["view"] = s.Status.View;
        data["height"] = s.Status.DecidedHeight;
        data["lag"] = s.Status.Lag;
        data["leader"] = s.Status.LeaderIndex;
        var age = _time.GetUtcNow().ToUnixTimeMilliseconds() - s.PublishedAtMs;
        if (age > 5000)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"replica thread silent for {age} ms", data: data));
        }

        if (s.InViewChange)
        {
            return Task.FromResult(HealthCheckResult.Degraded($"changing to view {s.Status.View}", data: data));
        }

        return Task.FromResult(s.Status.Lag > MaxLag
            ? HealthCheckResult.Degraded($"{s.Status.Lag} decisions behind", data: data)
            : HealthCheckResult.Healthy($"view {s.Status.View}, height {s.Status.DecidedHeight}", data));
    }
}
