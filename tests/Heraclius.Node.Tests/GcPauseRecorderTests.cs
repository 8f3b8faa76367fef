using System.Globalization;
using System.Text.RegularExpressions;
using Heraclius.Node.Commands;

namespace Heraclius.Node.Tests;

/// <summary>The bench's GC line reads what the runtime says a collection promoted, from its own events.</summary>
public sealed partial class GcPauseRecorderTests
{
    [Fact]
    public async Task AGen0CollectionThatKeepsFortyMegabytesOfYoungObjectsReportsThemPromoted()
    {
        using var recorder = new GcPauseRecorder();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        // The runtime's events reach an in-process listener on their own thread, a moment after the collection.
        await WaitForAsync(() => Promoted(recorder.PromotionSummary(), "gen1_max") > 0 || Collections(recorder) > 0);
        recorder.Reset();

        // Young and alive until the forced collection: whichever gen0 collection comes first (allocating them may start
        // some) copies each of them out of gen0.
        var kept = new List<byte[]>(40_000);
        for (var i = 0; i < 40_000; i++)
        {
            kept.Add(new byte[1_000]);
        }

        GC.Collect(0, GCCollectionMode.Forced, blocking: true);
        await WaitForAsync(() => Promoted(recorder.PromotionSummary(), "gen0_total") >= 40);

        var summary = recorder.PromotionSummary();
        Assert.Matches(SummaryShape(), summary);
        Assert.InRange(Promoted(summary, "gen0_total"), 40, 1_000);
        GC.KeepAlive(kept);
    }

    [Fact]
    public void BeforeAnyCollectionEveryFigureIsZero()
    {
        using var recorder = new GcPauseRecorder();
        recorder.Reset();

        Assert.Equal("gc_promoted_mb gen0_avg=0 gen0_max=0 gen0_total=0 gen1_avg=0 gen1_max=0 gen1_total=0", recorder.PromotionSummary());
    }

    private static int Collections(GcPauseRecorder recorder) =>
        int.Parse(GcCount().Match(recorder.Summary()).Groups[1].Value, CultureInfo.InvariantCulture);

    private static double Promoted(string summary, string field) =>
        double.Parse(Regex.Match(summary, field + "=([0-9]+)").Groups[1].Value, CultureInfo.InvariantCulture);

    private static async Task WaitForAsync(Func<bool> done)
    {
        for (var waited = 0; waited < 10_000 && !done(); waited += 50)
        {
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    [GeneratedRegex("^gc_promoted_mb gen0_avg=[0-9]+ gen0_max=[0-9]+ gen0_total=[0-9]+ gen1_avg=[0-9]+ gen1_max=[0-9]+ gen1_total=[0-9]+$")]
    private static partial Regex SummaryShape();

    [GeneratedRegex("gc_pauses=([0-9]+)")]
    private static partial Regex GcCount();
}
