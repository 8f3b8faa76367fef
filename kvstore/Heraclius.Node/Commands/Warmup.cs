using System.Diagnostics;
using System.Runtime;

namespace Heraclius.Node.Commands;

/// <summary>
/// A benchmark's warm-up: the load for at least the given time, then on in one-second slices until the JIT has settled.
/// </summary>
/// <remarks>
/// Tiered compilation re-compiles the hot methods on a background thread, and under this load it kept doing so for
/// about twelve seconds: in `bench get --vus 512` its thread used 2.55 s of CPU in the first nine seconds of the run
/// (15% of the process's CPU), most of it inside what the default two-second warm-up left to the measurement. A
/// measurement of the steady state starts when a one-second slice of load compiled for less than
/// <see cref="QuietJitMsPerSecond"/>; <see cref="Cap"/> bounds the wait.
/// </remarks>
internal static class Warmup
{
    /// <summary>Compilation per second of load below which the JIT counts as settled (a few methods a second).</summary>
    public const double QuietJitMsPerSecond = 25;

    /// <summary>The longest warm-up, whatever the JIT still does.</summary>
    public static readonly TimeSpan Cap = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan Slice = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Runs <paramref name="load"/> for <paramref name="minimum"/>, then in slices until the JIT is quiet or <see cref="Cap"/>;
    /// a zero <paramref name="minimum"/> (`--warmup 0s`) asks for no warm-up at all, and gets none.
    /// </summary>
    public static async Task RunAsync(Func<TimeSpan, Task> load, TimeSpan minimum)
    {
        if (minimum <= TimeSpan.Zero)
        {
            return;
        }

        var sw = Stopwatch.StartNew();
        await load(minimum);
        var lastJitMs = double.NaN;
        while (sw.Elapsed < Cap)
        {
            var before = JitInfo.GetCompilationTime();
            var sliceStart = sw.Elapsed;
            await load(Slice);
            lastJitMs = (JitInfo.GetCompilationTime() - before).TotalMilliseconds / Math.Max((sw.Elapsed - sliceStart).TotalSeconds, 0.001);
            if (lastJitMs < QuietJitMsPerSecond)
            {
                break;
            }
        }

        Console.WriteLine($"  warmup_s={sw.Elapsed.TotalSeconds:F1} jit_ms_per_s={(double.IsNaN(lastJitMs) ? "-" : lastJitMs.ToString("F1", System.Globalization.CultureInfo.InvariantCulture))}");
    }
}
