using System.Globalization;

namespace Heraclius.Node.Commands;

/// <summary>Percentiles of sorted latencies, and the line that shows where the tail starts.</summary>
internal static class LatencyDistribution
{
    /// <summary>The latency at quantile <paramref name="q"/> of <paramref name="sorted"/> (ascending), 0 when empty.</summary>
    public static double At(double[] sorted, double q) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];

    public static string Line(double[] sorted) =>
        string.Create(CultureInfo.InvariantCulture,
            $"  latency_ms p50={At(sorted, 0.50):F1} p90={At(sorted, 0.90):F1} p95={At(sorted, 0.95):F1} p99={At(sorted, 0.99):F1} p99.9={At(sorted, 0.999):F1} max={(sorted.Length == 0 ? 0 : sorted[^1]):F1}");
}
