using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Storage;

internal static class WalAssert
{
    public static void SameRecords(IReadOnlyList<WalRecord> expected, IReadOnlyList<WalRecord> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].Type == actual[i].Type, $"record {i}: type {actual[i].Type}, expected {expected[i].Type}");
            Assert.True(expected[i].Payload.AsSpan().SequenceEqual(actual[i].Payload), $"record {i}: payload differs");
        }
    }

    public static WalRecord RandomRecord(Random random, int length)
    {
        var payload = new byte[length];
        random.NextBytes(payload);
        // Any type but 255, which the log reserves for the record that frames a flush.
        return new WalRecord((byte)random.Next(255), payload);
    }
}
