using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Coordinator.Checks;

/// <summary>
/// The request-shape rule only the coordinator makes; the stateless checks of each leg are
/// <see cref="TransferValidation"/>, the same code the shards run again.
/// </summary>
internal static class TransferChecks
{
    /// <summary>
    /// Whether the request is one chain: every leg but the last linked. The last leg may be linked too:
    /// that chain is a result (<see cref="CreateTransferResult.LinkedEventChainOpen"/>), while an unlinked
    /// leg before the end would make the request several chains, which the format does not allow.
    /// </summary>
    public static bool IsOneChain(ReadOnlySpan<Transfer> chain)
    {
        for (var i = 0; i < chain.Length - 1; i++)
        {
            if (!chain[i].IsLinked)
            {
                return false;
            }
        }

        return chain.Length > 0;
    }
}
