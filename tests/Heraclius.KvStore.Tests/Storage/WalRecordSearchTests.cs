using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Storage;

public sealed class WalRecordSearchTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void AgreesWithCheckingEveryOffset_OnRegionsDenseWithPlausibleLengths()
    {
        var random = new Random(3);
        var path = _directory.File("region.bin");
        var found = 0;
        for (var trial = 0; trial < 400; trial++)
        {
            var region = RandomRegion(random);
            File.WriteAllBytes(path, region);
            using var handle = File.OpenHandle(path);
            var reader = new PositionalReader(handle, region.Length);
            var from = random.Next(0, 4);

            var result = WalRecordSearch.FindValidRecord(reader, from, region.Length);

            var anyValid = false;
            for (long q = from; q < region.Length && !anyValid; q++)
            {
                anyValid = WalFormat.ReadRecord(reader, q, region.Length, materialize: false, out _, out _) == WalRecordStatus.Valid;
            }

            Assert.Equal(anyValid, result >= 0);
            if (result >= 0)
            {
                found++;
                Assert.True(result >= from);
                Assert.Equal(WalRecordStatus.Valid, WalFormat.ReadRecord(reader, result, region.Length, materialize: false, out _, out _));
            }
        }

        // Both outcomes must have been exercised for the comparison to mean anything.
        Assert.InRange(found, 50, 350);
    }

    [Fact]
    public void WithAnIgnoredSpan_AgreesWithCheckingEveryOffset_SkippingOnlyRecordsWhollyInsideIt()
    {
        var random = new Random(5);
        var path = _directory.File("region.bin");
        var (found, skipped) = (0, 0);
        for (var trial = 0; trial < 400; trial++)
        {
            var region = RandomRegion(random);
            File.WriteAllBytes(path, region);
            using var handle = File.OpenHandle(path);
            var reader = new PositionalReader(handle, region.Length);
            var from = random.Next(0, 4);
            var ignoredStart = random.Next(0, region.Length + 1);
            var ignoredEnd = random.Next(ignoredStart, region.Length + 20);

            var result = WalRecordSearch.FindValidRecord(reader, from, region.Length, ignoredStart, ignoredEnd);

            var (counted, ignored) = (false, false);
            for (long q = from; q < region.Length && !counted; q++)
            {
                if (WalFormat.ReadRecord(reader, q, region.Length, materialize: false, out _, out var next) == WalRecordStatus.Valid)
                {
                    var inside = q >= ignoredStart && next <= ignoredEnd;
                    counted = !inside;
                    ignored |= inside;
                }
            }

            Assert.Equal(counted, result >= 0);
            if (result >= 0)
            {
                found++;
                Assert.Equal(WalRecordStatus.Valid, WalFormat.ReadRecord(reader, result, region.Length, materialize: false, out _, out var next));
                Assert.False(result >= ignoredStart && next <= ignoredEnd, $"returned {result}, inside [{ignoredStart}, {ignoredEnd})");
            }
            else if (ignored)
            {
                skipped++;
            }
        }

        // Records found, and records ignored with nothing else to find, must both have happened.
        Assert.InRange(found, 30, 370);
        Assert.InRange(skipped, 10, 370);
    }

    private static byte[] RandomRegion(Random random)
    {
        // Mostly small byte values so many offsets read as plausible lengths; sometimes a real record inside.
        var region = new byte[random.Next(0, 400)];
        for (var i = 0; i < region.Length; i++)
        {
            region[i] = (byte)(random.Next(3) == 0 ? random.Next(256) : random.Next(4));
        }

        if (region.Length > 40 && random.Next(2) == 0)
        {
            var payload = new byte[random.Next(0, region.Length - 40)];
            random.NextBytes(payload);
            var at = random.Next(0, region.Length - payload.Length - WalFormat.RecordOverhead + 1);
            WalFormat.Encode(region.AsSpan(at, payload.Length + WalFormat.RecordOverhead), (byte)random.Next(256), payload);
        }

        return region;
    }
}
