using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Consensus;

/// <summary>
/// Recovery's view of the proposals the WAL holds whole, in the order it reads them: a by-reference
/// record resolves only against a record read before it.
/// </summary>
internal sealed class WalProposalIndex
{
    private readonly Dictionary<Hash32, Proposal> _byHash = [];

    /// <summary>Notes a proposal read whole from a record, and returns it.</summary>
    public Proposal Add(Proposal proposal)
    {
        _byHash[proposal.Header.Hash] = proposal;
        return proposal;
    }

    /// <summary>
    /// The proposal <paramref name="reference"/> names. The writer names only proposals its log holds
    /// whole in an earlier record, so one that is missing means the log was damaged or cut in the middle.
    /// </summary>
    /// <exception cref="WalCorruptedException">No earlier record holds that proposal.</exception>
    public Proposal Resolve(ProposalReference reference, WalRecordType record)
    {
        if (!_byHash.TryGetValue(reference.HeaderHash, out var proposal) || proposal.Header.Height != reference.Height)
        {
            throw new WalCorruptedException(
                $"WAL {record} record refers to the proposal at {reference}, which no earlier record holds");
        }

        return proposal;
    }
}
