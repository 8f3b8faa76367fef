using Heraclius.KvStore.Encoding;

namespace Heraclius.Ledger.Protocol;

/// <summary>
/// The writer a service encodes a message or an answer into just before handing it to
/// <see cref="Heraclius.KvStore.StateMachine.IServiceOutputs"/>, which copies it into the decision's
/// group before returning: an array per message (and a writer to build it) was a large share of what a
/// transfer allocated. Execution is synchronous, so one writer per thread serves every message; what
/// <see cref="Take"/> returned is only valid until the next <see cref="Take"/> on the thread, so the bytes
/// must be handed over, never kept.
/// </summary>
internal static class MessageScratch
{
    // A message that grew it past this is not worth keeping a buffer of that size for.
    private const int MaxKeptBytes = 1 << 20;

    [ThreadStatic]
    private static CanonicalWriter? s_writer;

    /// <summary>This thread's writer, emptied.</summary>
    public static CanonicalWriter Take()
    {
        var w = s_writer;
        if (w is null || w.Capacity > MaxKeptBytes)
        {
            w = new CanonicalWriter(1024);
            s_writer = w;
        }

        w.Clear();
        return w;
    }
}
