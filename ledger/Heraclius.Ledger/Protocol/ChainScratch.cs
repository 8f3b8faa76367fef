using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Protocol;

/// <summary>
/// A one-leg chain array a service parses a message's chain into (nearly every chain has one leg),
/// instead of a new array per message: what a message's chain was parsed into is read while the
/// message executes and never kept (records store its encoding), and execution is synchronous, so one
/// per thread serves. Rented and returned around one message; a nested rent gets a new array.
/// </summary>
internal static class ChainScratch
{
    [ThreadStatic]
    private static Transfer[]? s_one;

    public static Transfer[] Rent()
    {
        var buffer = s_one ?? new Transfer[1];
        s_one = null;
        return buffer;
    }

    /// <summary>Gives the array back for the next message on this thread; the caller must hold nothing parsed into it.</summary>
    public static void Return(Transfer[] buffer)
    {
        buffer[0] = default;
        s_one = buffer;
    }
}
