using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;

namespace Heraclius.KvStore.Consensus;

/// <summary>Votes of one kind for one height, by view, at most one per member per view.</summary>
internal sealed class VoteSet
{
    private readonly SortedDictionary<ulong, Dictionary<int, (Hash32 Hash, byte[] Signature)>> _byView = [];

    /// <summary>Adds a vote; false when the member already voted in that view (a duplicate, or equivocation if the hash differs).</summary>
    public bool Add(ulong view, int signer, Hash32 hash, byte[] signature, out bool equivocation)
    {
        equivocation = false;
        if (!_byView.TryGetValue(view, out var votes))
        {
            votes = [];
            _byView.Add(view, votes);
        }

        if (votes.TryGetValue(signer, out var existing))
        {
            equivocation = existing.Hash != hash;
            return false;
        }

        votes.Add(signer, (hash, signature));
        return true;
    }

    /// <summary>The signatures for <paramref name="hash"/> in <paramref name="view"/>, sorted by signer, when there are at least <paramref name="quorum"/>.</summary>
    public QcSignature[]? Quorum(ulong view, Hash32 hash, int quorum)
    {
        if (!_byView.TryGetValue(view, out var votes) || votes.Count < quorum)
        {
            return null;
        }

        // Called on every vote: count first, allocate only for a quorum, and take signers in index order.
        var count = 0;
        foreach (var vote in votes.Values)
        {
            if (vote.Hash == hash)
            {
                count++;
            }
        }

        if (count < quorum)
        {
            return null;
        }

        var signers = new int[count];
        var i = 0;
        foreach (var (signer, vote) in votes)
        {
            if (vote.Hash == hash)
            {
                signers[i++] = signer;
            }
        }

        Array.Sort(signers);
        var result = new QcSignature[quorum];
        for (var k = 0; k < quorum; k++)
        {
            result[k] = new QcSignature(signers[k], votes[signers[k]].Signature);
        }

        return result;
    }

    /// <summary>Every (view, hash) that has a quorum, lowest view first; null when none (asked on every vote, so nothing is allocated then).</summary>
    public List<(ulong View, Hash32 Hash)>? Quorums(int quorum)
    {
        List<(ulong View, Hash32 Hash)>? found = null;
        foreach (var (view, votes) in _byView)
        {
            if (votes.Count < quorum)
            {
                continue;
            }

            foreach (var (signer, vote) in votes)
            {
                // Each hash is counted once, by its lowest signer.
                var count = 0;
                foreach (var (other, v) in votes)
                {
                    if (v.Hash != vote.Hash)
                    {
                        continue;
                    }

                    if (other < signer)
                    {
                        count = -1;
                        break;
                    }

                    count++;
                }

                if (count >= quorum)
                {
                    (found ??= []).Add((view, vote.Hash));
                }
            }
        }

        return found;
    }

    /// <summary>The vote <paramref name="signer"/> cast in <paramref name="view"/>, when there is one.</summary>
    public bool TryGet(ulong view, int signer, out Hash32 hash, out byte[] signature)
    {
        if (_byView.TryGetValue(view, out var votes) && votes.TryGetValue(signer, out var vote))
        {
            (hash, signature) = vote;
            return true;
        }

        (hash, signature) = (default, []);
        return false;
    }

    public bool Has(ulong view, int signer) => _byView.TryGetValue(view, out var v) && v.ContainsKey(signer);

    public void Clear() => _byView.Clear();

    public int ViewCount => _byView.Count;

    public void DropViewsBelow(ulong view)
    {
        foreach (var v in _byView.Keys.Where(v => v < view).ToList())
        {
            _byView.Remove(v);
        }
    }
}
