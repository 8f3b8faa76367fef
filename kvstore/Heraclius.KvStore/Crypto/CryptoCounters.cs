namespace Heraclius.KvStore.Crypto;

/// <summary>
/// Process-wide counts of signature operations. Benchmarks report verifies per operation from
/// these, because that count carries over to other machines where wall time does not.
/// </summary>
public static class CryptoCounters
{
    private static long _verifies;
    private static long _signs;

    public static long Verifies => Interlocked.Read(ref _verifies);

    public static long Signs => Interlocked.Read(ref _signs);

    internal static void CountVerify() => Interlocked.Increment(ref _verifies);

    internal static void CountSign() => Interlocked.Increment(ref _signs);
}
